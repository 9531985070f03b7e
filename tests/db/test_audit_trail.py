"""The spine in PostgreSQL: version bumps, one audit row per changed row, the doorbell."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg

from db.committed import Change
from db.pool import Actor, system_transaction, transaction
from tests.conftest import World


async def _audit(pool: asyncpg.Pool, table: str) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await conn.fetch(
            "SELECT * FROM audit_logs WHERE table_name = $1 ORDER BY id", table)


async def test_raw_sql_changes_write_exactly_the_expected_audit_rows(
    pool: asyncpg.Pool, world: World,
) -> None:
    org = await world.org()
    user = await world.user(org, "admin")
    actor = Actor(user["id"], org, "admin", request_id="req-1", origin_sid="sid-9",
                  ip="203.0.113.7", user_agent="pytest")
    async with transaction(pool, actor) as conn:
        client = await conn.fetchval(
            "INSERT INTO clients (org_id, name) VALUES ($1, 'Akbank') RETURNING id", org)
        await conn.execute("UPDATE clients SET name = 'Akbank TAŞ', city = 'İstanbul' "
                           "WHERE id = $1", client)
        await conn.execute("DELETE FROM clients WHERE id = $1", client)
    rows = await _audit(pool, "clients")
    assert [r["action"] for r in rows] == ["insert", "update", "delete"]
    for row in rows:
        assert row["record_id"] == client and row["org_id"] == org
        assert row["user_id"] == user["id"] and row["request_id"] == "req-1"
        assert row["origin_sid"] == "sid-9" and str(row["ip"]) == "203.0.113.7"
        assert row["project_id"] is None
    insert, update, delete = rows
    assert insert["old_values"] is None and insert["new_values"]["name"] == "Akbank"
    assert update["changed_fields"] == ["city", "name"]
    assert update["old_values"]["name"] == "Akbank" and update["new_values"]["name"] == "Akbank TAŞ"
    assert delete["new_values"] is None and delete["old_values"]["name"] == "Akbank TAŞ"
    assert "search_vector" not in insert["new_values"]


async def test_noop_update_keeps_version_and_writes_no_audit_row(
    pool: asyncpg.Pool, world: World,
) -> None:
    org = await world.org()
    user = await world.user(org, "admin")
    project = await world.project(org)
    async with transaction(pool, Actor(user["id"], org)) as conn:
        before = await conn.fetchrow("SELECT version, updated_at FROM projects WHERE id = $1",
                                     project)
        same = await conn.fetchrow(
            "UPDATE projects SET name = name, updated_at = now() + interval '1 day' "
            "WHERE id = $1 RETURNING version, updated_at, name", project)
        assert same is not None and same["name"] == "Levent Fit-Out"
        assert (same["version"], same["updated_at"]) == (before["version"], before["updated_at"])
        bumped = await conn.fetchval(
            "UPDATE projects SET progress = 40 WHERE id = $1 RETURNING version", project)
        assert bumped == before["version"] + 1
    updates = [r for r in await _audit(pool, "projects") if r["action"] == "update"]
    assert len(updates) == 1 and updates[0]["changed_fields"] == ["progress"]


async def test_password_hash_is_redacted_in_the_audit_log(
    pool: asyncpg.Pool, world: World,
) -> None:
    org = await world.org()
    user = await world.user(org, "designer")
    async with system_transaction(pool) as conn:
        await conn.execute("UPDATE users SET password_hash = 'new-secret-hash' WHERE id = $1",
                           user["id"])
    rows = await _audit(pool, "users")
    text = json.dumps([dict(r) for r in rows], default=str)
    assert user["password_hash"] not in text and "new-secret-hash" not in text
    assert rows[-1]["changed_fields"] == ["password_hash"]
    assert rows[-1]["new_values"]["password_hash"] == "[redacted]"


MARKER = "test-marker"


class Doorbell:
    """A dedicated connection listening on the doorbell channel, recording every payload."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.payloads: list[str] = []
        self.marked = asyncio.Event()

    @classmethod
    async def listen(cls, database_url: str) -> Doorbell:
        bell = cls(await asyncpg.connect(database_url))
        await bell.conn.add_listener("formula_pm_changes", bell._heard)
        return bell

    def _heard(self, *args: Any) -> None:
        self.payloads.append(args[3])
        if args[3] == MARKER:
            self.marked.set()

    async def rung_before_marker(self, pool: asyncpg.Pool) -> list[str]:
        """Every payload committed before now: ring a marker of our own (notifications
        arrive in commit order), wait for it, and return what came before it."""
        async with pool.acquire() as conn:
            await conn.execute("SELECT pg_notify('formula_pm_changes', $1)", MARKER)
        await asyncio.wait_for(self.marked.wait(), 5)
        return self.payloads[:self.payloads.index(MARKER)]


async def test_doorbell_rings_empty_even_for_a_huge_row(
    pool: asyncpg.Pool, world: World, database_url: str,
) -> None:
    org = await world.org()
    user = await world.user(org, "admin")
    project = await world.project(org)
    bell = await Doorbell.listen(database_url)
    try:
        async with transaction(pool, Actor(user["id"], org)) as conn:
            await conn.execute(
                "INSERT INTO tasks (org_id, project_id, name, description) "
                "VALUES ($1, $2, 'Huge', $3)", org, project, "ş" * 100_000)
        # The leader reads the audit log after its cursor: the payload carries nothing.
        assert await bell.rung_before_marker(pool) == [""]
    finally:
        await bell.conn.close()


async def test_writers_skip_the_doorbell_while_the_leader_is_awake(
    pool: asyncpg.Pool, world: World, database_url: str,
) -> None:
    org = await world.org()
    user = await world.user(org, "admin")
    project = await world.project(org)
    async with pool.acquire() as conn:
        await conn.execute("UPDATE realtime_state SET listener_awake = true")
    bell = await Doorbell.listen(database_url)
    try:
        async with transaction(pool, Actor(user["id"], org)) as conn:
            await conn.execute("INSERT INTO tasks (org_id, project_id, name) "
                               "VALUES ($1, $2, 'Quiet')", org, project)
        assert await bell.rung_before_marker(pool) == []
        assert len(await _audit(pool, "tasks")) == 1
    finally:
        await bell.conn.close()


async def test_a_transaction_of_many_rows_rings_once(
    pool: asyncpg.Pool, world: World, database_url: str,
) -> None:
    org = await world.org()
    user = await world.user(org, "admin")
    project = await world.project(org)
    async with pool.acquire() as conn:  # the leader asleep: every writer rings
        assert not await conn.fetchval("SELECT listener_awake FROM realtime_state")
    bell = await Doorbell.listen(database_url)
    try:
        async with transaction(pool, Actor(user["id"], org)) as conn:
            await conn.execute(
                "INSERT INTO tasks (org_id, project_id, name) "
                "SELECT $1, $2, 'Task ' || n FROM generate_series(1, 2000) n", org, project)
            await conn.execute("UPDATE tasks SET progress = 10 WHERE project_id = $1", project)
            for n in range(50):
                await conn.execute("INSERT INTO clients (org_id, name) VALUES ($1, $2)",
                                   org, f"Client {n}")
        assert await bell.rung_before_marker(pool) == [""]
        assert len(await _audit(pool, "tasks")) == 4000
        assert len(await _audit(pool, "clients")) == 50
    finally:
        await bell.conn.close()


async def test_record_event_appends_user_actions(pool: asyncpg.Pool, world: World) -> None:
    org = await world.org()
    user = await world.user(org, "admin")
    async with transaction(pool, Actor(user["id"], org, request_id="r-2", ip="192.0.2.1")) as c:
        audit_id = await c.fetchval("SELECT fpm_record_event('export', $1, $2, $3)",
                                    org, user["id"], {"format": "csv"})
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM audit_logs WHERE id = $1", audit_id)
    assert (row["action"], row["request_id"], str(row["ip"])) == ("export", "r-2", "192.0.2.1")
    assert row["details"] == {"format": "csv"}


async def test_changes_of_the_current_transaction(pool: asyncpg.Pool, world: World) -> None:
    org = await world.org()
    user = await world.user(org, "admin")
    changes: list[Change] = []

    async def committed(done: list[Change]) -> None:
        changes.extend(done)

    async with transaction(pool, Actor(user["id"], org), on_commit=committed) as conn:
        cid = await conn.fetchval("INSERT INTO clients (org_id, name) VALUES ($1, 'X') "
                                  "RETURNING id", org)
    assert [(c.table, c.record_id) for c in changes] == [("clients", cid)]
    assert isinstance(cid, uuid.UUID)
