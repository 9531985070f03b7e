"""The spine in PostgreSQL: version bumps, one audit row per changed row, the doorbell."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg

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


async def test_doorbell_payload_is_small_even_for_a_huge_row(
    pool: asyncpg.Pool, world: World, database_url: str,
) -> None:
    org = await world.org()
    user = await world.user(org, "admin")
    project = await world.project(org)
    listener = await asyncpg.connect(database_url)
    received: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener("formula_pm_changes", lambda *args: received.put_nowait(args[3]))
    try:
        async with transaction(pool, Actor(user["id"], org)) as conn:
            await conn.execute(
                "INSERT INTO tasks (org_id, project_id, name, description) "
                "VALUES ($1, $2, 'Huge', $3)", org, project, "ş" * 100_000)
        payload = await asyncio.wait_for(received.get(), 5)
        assert len(payload.encode()) < 8000
        body = json.loads(payload)
        assert body["t"] == "tasks" and body["p"] == str(project) and body["o"] == str(org)
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT table_name FROM audit_logs WHERE id = $1",
                                       body["id"]) == "tasks"
            await conn.execute("UPDATE realtime_state SET listener_awake = true")
        async with transaction(pool, Actor(user["id"], org)) as conn:
            await conn.execute("UPDATE tasks SET name = 'Quiet' WHERE project_id = $1", project)
        await asyncio.sleep(0.3)
        assert received.empty()  # the leader is awake: writers skip the doorbell
    finally:
        await listener.close()


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
    changes: list[Any] = []
    async with transaction(pool, Actor(user["id"], org, changes=changes)) as conn:
        cid = await conn.fetchval("INSERT INTO clients (org_id, name) VALUES ($1, 'X') "
                                  "RETURNING id", org)
    assert [(c["table_name"], c["record_id"]) for c in changes] == [("clients", cid)]
    assert isinstance(cid, uuid.UUID)
