"""GET /api/v1/audit/export: OCSF JSON lines for org admins, resumable by cursor with
nothing lost and nothing repeated, and audited itself."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from tests.conftest import World
from tests.server.api import Caller, caller
from tests.waiting import eventually

URL = "/api/v1/audit/export"


async def pull(admin: Caller, after: str | None, limit: int) -> list[dict[str, Any]]:
    query = f"?limit={limit}" + (f"&after={after}" if after else "")
    response = await admin.client.get(URL + query, headers=admin.headers)
    assert response.status == 200, await response.text()
    assert response.content_type == "application/x-ndjson"
    text = await response.text()
    return [json.loads(line) for line in text.splitlines()]


async def below_horizon(pool: asyncpg.Pool) -> bool:
    return bool(await pool.fetchval(
        "SELECT coalesce(max(txid) < pg_snapshot_xmin(pg_current_snapshot()), true) "
        "FROM audit_logs"))


async def test_pulling_by_cursor_loses_nothing_and_repeats_nothing(
        client: TestClient[Any, Any], world: World, pool: asyncpg.Pool) -> None:
    org, other = await world.org(), await world.org()
    admin = await caller(client, world, org, "admin")
    stranger = await caller(client, world, other, "admin")
    for n in range(4):
        await admin.post("/api/v1/projects", {"name": f"Exported {n}", "type": "office"})
    await stranger.post("/api/v1/projects", {"name": "Not theirs", "type": "office"})
    # Only rows every transaction of the server has passed go out (another database's long
    # transaction holds them back too).
    await eventually(lambda: below_horizon(pool), limit=20, interval=0.05)
    before = {r["id"] for r in await pool.fetch(
        "SELECT id FROM audit_logs WHERE org_id = $1", org)}
    events: list[dict[str, Any]] = []
    after = None
    for _ in range(50):
        page = await pull(admin, after, 3)
        events.extend(page)
        if page:
            after = page[-1]["unmapped"]["cursor"]
        if len(page) < 3:
            break
    ids = [int(e["metadata"]["uid"]) for e in events]
    assert len(ids) == len(set(ids))
    written = {r["id"] for r in await pool.fetch(
        "SELECT id FROM audit_logs WHERE org_id = $1", org)}
    exports = {r["id"] for r in await pool.fetch(
        "SELECT id FROM audit_logs WHERE org_id = $1 AND action = 'audit_exported'", org)}
    # Every row of the organisation went out once (the exports' own rows as they settle).
    assert before <= set(ids) <= written
    assert len(exports) >= 2  # each pull was audited
    created = [e for e in events if e["api"]["operation"] == "insert"
               and e.get("resources", [{}])[0].get("type") == "projects"]
    assert len(created) == 4
    first = created[0]
    assert first["class_uid"] == 6003 and first["activity_name"] == "Create"
    assert first["type_uid"] == 600301 and first["status"] == "Success"
    assert first["actor"]["user"]["uid"] == admin.id
    assert isinstance(first["time"], int) and first["metadata"]["correlation_uid"]
    user = next(e for e in events if e["api"]["operation"] == "insert"
                and (e.get("entity") or {}).get("type") == "users")
    assert user["class_uid"] == 3004 and user["entity"]["uid"] == admin.id
    # The stranger's organisation never appears.
    assert all(e["unmapped"]["org_id"] in (str(org), None) for e in events)


async def test_sign_in_events_are_ocsf_authentication(client: TestClient[Any, Any],
                                                      world: World, pool: asyncpg.Pool
                                                      ) -> None:
    org = await world.org()
    admin = await caller(client, world, org, "admin")
    await client.post("/api/v1/auth/login", json={"email": admin.user["email"],
                                                  "password": "wrong password!"},
                      headers={"User-Agent": "probe/1.0"})
    await eventually(lambda: below_horizon(pool), limit=20, interval=0.05)
    events = await pull(admin, None, 1000)
    failed = [e for e in events if e["api"]["operation"] == "login_failed"]
    assert len(failed) == 1
    assert failed[0]["class_uid"] == 3002 and failed[0]["status_id"] == 2
    assert failed[0]["http_request"]["user_agent"] == "probe/1.0"
    assert failed[0]["src_endpoint"]["ip"]


async def test_only_admins_and_only_our_cursors(client: TestClient[Any, Any],
                                                world: World) -> None:
    org = await world.org()
    manager = await caller(client, world, org, "project_manager")
    status, body = await manager.get(URL)
    assert status == 403, body
    admin = await caller(client, world, org, "admin")
    status, body = await admin.get(URL + "?after=bm90LW91cnM")
    assert status == 422 and body["errors"][0]["field"] == "after"
    status, body = await admin.get(URL + "?limit=0")
    assert status == 422
