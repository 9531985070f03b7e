"""A transaction's `on_commit` subscriber: told exactly what was committed, and only then."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from db.committed import Change
from db.pool import Actor, system_transaction, transaction
from tests.conftest import World


class Subscriber:
    """Records each call, and whether the changed rows were visible to others by then."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.calls: list[list[Change]] = []
        self.visible: list[bool] = []
        self.watch: uuid.UUID | None = None

    async def __call__(self, changes: list[Change]) -> None:
        self.calls.append(changes)
        if self.watch is not None:
            async with self.pool.acquire() as conn:  # another connection: committed rows only
                self.visible.append(await conn.fetchval(
                    "SELECT count(*) = 1 FROM clients WHERE id = $1", self.watch))


async def test_subscriber_receives_exactly_the_committed_changes_after_commit(
    pool: asyncpg.Pool, world: World,
) -> None:
    org = await world.org()
    user = await world.user(org, "admin")
    project = await world.project(org)
    seen = Subscriber(pool)
    async with transaction(pool, Actor(user["id"], org, "admin"), on_commit=seen) as conn:
        client = await conn.fetchval(
            "INSERT INTO clients (org_id, name) VALUES ($1, 'Akbank') RETURNING id", org)
        seen.watch = client
        await conn.execute("UPDATE clients SET city = 'İzmir' WHERE id = $1", client)
        await conn.execute("UPDATE projects SET name = 'Renamed' WHERE id = $1", project)
        task = await conn.fetchval(
            "INSERT INTO tasks (org_id, project_id, name) VALUES ($1, $2, 'T') RETURNING id",
            org, project)
        await conn.execute("DELETE FROM tasks WHERE id = $1", task)
        assert seen.calls == []  # nothing before the commit
    assert len(seen.calls) == 1
    assert sorted(seen.calls[0], key=lambda c: c.table) == [
        Change("clients", client, None, org),
        Change("projects", project, project, org),
        Change("tasks", task, project, org),
    ]
    assert seen.visible == [True]  # called once the commit is visible to everyone


async def test_subscriber_is_not_called_on_rollback(pool: asyncpg.Pool, world: World) -> None:
    org = await world.org()
    user = await world.user(org, "admin")
    seen = Subscriber(pool)
    with pytest.raises(RuntimeError, match="changed my mind"):
        async with transaction(pool, Actor(user["id"], org), on_commit=seen) as conn:
            await conn.execute("INSERT INTO clients (org_id, name) VALUES ($1, 'Gone')", org)
            raise RuntimeError("changed my mind")
    with pytest.raises(asyncpg.UniqueViolationError):
        async with system_transaction(pool, Actor(user["id"], org), on_commit=seen) as conn:
            await conn.execute("INSERT INTO clients (org_id, name) VALUES ($1, 'Gone')", org)
            await conn.execute("INSERT INTO organizations (id, name, slug) "
                               "SELECT id, name, slug FROM organizations WHERE id = $1", org)
    assert seen.calls == []
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM clients WHERE org_id = $1", org) == 0


async def test_subscriber_is_not_called_when_the_commit_fails(
    pool: asyncpg.Pool, world: World,
) -> None:
    org = await world.org()
    seen = Subscriber(pool)
    body_done = False
    with pytest.raises(asyncpg.UniqueViolationError):
        async with system_transaction(pool, on_commit=seen) as conn:
            await conn.execute("INSERT INTO clients (org_id, name) VALUES ($1, 'Gone')", org)
            # A deferred constraint: the violation is found by COMMIT itself.
            await conn.execute("CREATE TEMP TABLE twice (n int UNIQUE DEFERRABLE "
                               "INITIALLY DEFERRED) ON COMMIT DROP")
            await conn.execute("INSERT INTO twice VALUES (1), (1)")
            body_done = True
    assert body_done  # so the violation was the COMMIT's
    assert seen.calls == []


async def test_read_only_and_unchanged_transactions(pool: asyncpg.Pool, world: World) -> None:
    org = await world.org()
    user = await world.user(org, "admin")
    seen = Subscriber(pool)
    async with transaction(pool, Actor(user["id"], org), readonly=True, on_commit=seen) as conn:
        await conn.fetchval("SELECT count(*) FROM clients")
    assert seen.calls == []  # a read-only transaction reports nothing
    async with transaction(pool, Actor(user["id"], org), on_commit=seen) as conn:
        await conn.fetchval("SELECT count(*) FROM clients")
    assert seen.calls == [[]]  # a write transaction that changed nothing: told so, once


async def test_system_transaction_reports_like_transaction(
    pool: asyncpg.Pool, world: World,
) -> None:
    org = await world.org()
    seen = Subscriber(pool)
    async with system_transaction(pool, on_commit=seen) as conn:
        client = await conn.fetchval(
            "INSERT INTO clients (org_id, name) VALUES ($1, 'Sys') RETURNING id", org)
    assert seen.calls == [[Change("clients", client, None, org)]]
