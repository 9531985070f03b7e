"""`db.pool.snapshot`: the read-only transactions of the same user opened inside it join its
one REPEATABLE READ transaction (what a background export reads a list in), so rows
committed meanwhile are not seen; anything else (another user, a write, the system) opens
its own (a task started inside too); `COUNTING` counts a list query's rows before its page,
in the same snapshot."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg

from db.pool import snapshot, system_transaction, transaction
from db.queries.rows import COUNTING, RowCount, fetch_page
from tests.conftest import World, actor_of


@dataclass(frozen=True)
class _Key:
    sql: str = "created_at"


@dataclass(frozen=True)
class _FirstPage:
    """A first keyset page of `limit` rows by creation (db does not import server.rest)."""

    limit: int
    key: _Key = _Key()
    order_sql: str = "created_at ASC, id ASC"

    def where(self, first_param: int) -> tuple[str, list[object]]:
        return "TRUE", []


async def _add_task(pool: asyncpg.Pool, org: object, project: object) -> None:
    async with system_transaction(pool) as conn:
        await conn.execute("INSERT INTO tasks (org_id, project_id, name) VALUES ($1, $2, 'T')",
                           org, project)


async def test_reads_inside_a_snapshot_see_one_instant(pool: asyncpg.Pool,
                                                        world: World) -> None:
    org = await world.org()
    admin, other = await world.user(org, "admin"), await world.user(org, "admin")
    project = await world.project(org)
    await _add_task(pool, org, project)
    me = actor_of(admin)
    count = "SELECT count(*) FROM tasks WHERE project_id = $1"
    async with snapshot(pool, me) as pinned:
        assert await pinned.fetchval(count, project) == 1
        await _add_task(pool, org, project)  # committed after the snapshot began
        async with transaction(pool, actor_of(admin, request_id="page-2"),
                               readonly=True) as conn:
            assert conn is pinned and await conn.fetchval(count, project) == 1
        # Another user, or a write, has a transaction (and a snapshot) of its own.
        async with transaction(pool, actor_of(other), readonly=True) as conn:
            assert conn is not pinned and await conn.fetchval(count, project) == 2
        async with transaction(pool, me) as conn:
            assert conn is not pinned and await conn.fetchval(count, project) == 2
        assert await pinned.fetchval("SHOW transaction_isolation") == "repeatable read"

        async def elsewhere() -> bool:  # a task started inside: never on the same connection
            async with transaction(pool, me, readonly=True) as conn:
                return conn is pinned

        assert not await asyncio.create_task(elsewhere())
    async with transaction(pool, me, readonly=True) as conn:
        assert conn is not pinned and await conn.fetchval(count, project) == 2


async def test_a_list_query_counts_its_rows_when_asked(pool: asyncpg.Pool,
                                                       world: World) -> None:
    org = await world.org()
    admin = await world.user(org, "admin")
    project = await world.project(org)
    for _ in range(3):
        await _add_task(pool, org, project)
    counting = RowCount()
    token = COUNTING.set(counting)
    try:
        async with transaction(pool, actor_of(admin), readonly=True) as conn:
            rows = await fetch_page(conn, "tasks", [("project_id = {}", project)],
                                    _FirstPage(limit=1))
            again = await fetch_page(conn, "tasks", [("project_id = {}", None)],
                                     _FirstPage(limit=1))
    finally:
        COUNTING.reset(token)
    # The whole filtered list, not the page (limit + 1 rows); only the first query counts.
    assert len(rows) == 2 and len(again) == 2 and counting.total == 3
    async with transaction(pool, actor_of(admin), readonly=True) as conn:
        await fetch_page(conn, "tasks", [], _FirstPage(limit=1))
    assert counting.total == 3
