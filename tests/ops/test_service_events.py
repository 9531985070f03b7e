"""The service's own events: startup and shutdown once per occurrence (a SIGKILLed run is
noticed by the next startup of the same worker name), server_error rate-limited, unknown
sign-in addresses stored as a keyed hash, and org admins reading only their rows and the
installation's backups."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from db.queries.events import record_event
from server.config import Settings
from server.system_events import email_fingerprint
from tests.conftest import World
from tests.realtime.conftest import Worker


async def _life(pool: asyncpg.Pool, worker: str) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return list(await conn.fetch(
            "SELECT id, action, org_id, details FROM audit_logs WHERE action IN "
            "('startup', 'shutdown') AND details->>'worker' = $1 ORDER BY id", worker))


async def test_sigterm_records_shutdown_and_a_sigkilled_run_is_noticed_at_next_startup(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = f"ops-worker-{secrets.token_hex(3)}"
    monkeypatch.setenv("WORKER_NAME", name)
    worker = Worker(settings, tmp_path)
    try:
        worker.start()
        await worker.ready()
        worker.stop()  # SIGTERM
        assert worker.process is not None and worker.process.returncode == 0
        rows = await _life(pool, name)
        assert [r["action"] for r in rows] == ["startup", "shutdown"]
        assert rows[0]["org_id"] is None and rows[0]["details"]["revision"]
        assert rows[0]["details"]["previous_run_ended_cleanly"] is True
        assert rows[1]["details"]["uptime_seconds"] > 0

        worker.start()
        await worker.ready()
        worker.kill()  # SIGKILL: no shutdown row
        worker.start()
        await worker.ready()
        rows = await _life(pool, name)
        assert [r["action"] for r in rows] == ["startup", "shutdown", "startup", "startup"]
        assert rows[2]["details"]["previous_run_ended_cleanly"] is True
        last = rows[3]["details"]
        assert last["previous_run_ended_cleanly"] is False
        assert last["previous_run"]["startup_id"] == rows[2]["id"]
    finally:
        worker.stop()
    assert [r["action"] for r in await _life(pool, name)][-1] == "shutdown"


async def test_server_errors_are_recorded_at_most_once_a_second_per_worker(
    settings: Settings, pool: asyncpg.Pool, world: World,
) -> None:
    from server.app import create_app

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("simulated failure")

    app = create_app(settings)
    app.router.add_get("/ops-test/boom", boom)
    admin = await world.user(await world.org(), "admin")
    async with TestClient(TestServer(app)) as client:
        headers = await world.headers(app, admin)
        started = time.monotonic()
        first = await client.get("/ops-test/boom", headers=headers)
        assert first.status == 500
        for _ in range(29):
            assert (await client.get("/ops-test/boom", headers=headers)).status == 500
        burst = time.monotonic() - started
        await asyncio.sleep(1.1)
        assert (await client.get("/ops-test/boom", headers=headers)).status == 500
        await asyncio.sleep(0.3)
        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT org_id, request_id, details FROM audit_logs "
                                    "WHERE action = 'server_error' ORDER BY id")
    assert 2 <= len(rows) <= int(burst) + 2
    assert rows[0]["details"]["request_id"] == first.headers["X-Request-ID"]
    assert rows[0]["request_id"] == first.headers["X-Request-ID"]
    assert rows[0]["org_id"] is None and rows[0]["details"]["status"] == 500
    assert sum(r["details"]["suppressed_before"] for r in rows) + len(rows) == 31


async def test_an_unknown_sign_in_address_is_stored_only_as_a_keyed_hash(
    client: TestClient[Any, Any], pool: asyncpg.Pool, settings: Settings,
) -> None:
    typed = "Tr0ub4dor&3-is-my-password"
    response = await client.post("/api/v1/auth/login",
                                 json={"email": f"{typed}@x.example", "password": "x" * 12})
    assert response.status in (401, 422)
    if response.status == 422:  # not an address at all: refused before the lookup
        return
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT org_id, details::text AS text, details "
                                  "FROM audit_logs WHERE action = 'login_failed'")
    assert row["org_id"] is None and typed.lower() not in row["text"].lower()
    assert row["details"] == {"email_hmac": email_fingerprint(
        settings.jwt_secret, f"{typed}@x.example")}


async def test_org_admins_read_their_rows_and_the_installation_backups_only(
    client: TestClient[Any, Any], app: web.Application, world: World, pool: asyncpg.Pool,
) -> None:
    org_a, org_b = await world.org(), await world.org()
    admin_a, admin_b = await world.user(org_a, "admin"), await world.user(org_b, "admin")
    member_a = await world.user(org_a, "project_manager")
    async with pool.acquire() as conn:
        await conn.execute("SELECT fpm_record_event('login_failed', $1, $2)", org_a,
                           admin_a["id"])
        await conn.execute("SELECT fpm_record_event('login_failed', $1, $2)", org_b,
                           admin_b["id"])
        for action in ("backup_completed", "startup", "server_error", "login_failed"):
            await record_event(conn, action, {"worker": "w"})
    seen = {}
    for who in (admin_a, admin_b, member_a):
        response = await client.get("/api/v1/audit?limit=100",
                                    headers=await world.headers(app, who))
        assert response.status == 200
        seen[who["email"]] = {(r["action"], r["org_id"]) for r in
                              (await response.json())["data"]
                              if r["action"] in ("login_failed", "backup_completed",
                                                 "startup", "server_error")}
    assert seen[admin_a["email"]] == {("login_failed", str(org_a)), ("backup_completed", None)}
    assert seen[admin_b["email"]] == {("login_failed", str(org_b)), ("backup_completed", None)}
    assert seen[member_a["email"]] == set()


async def test_the_change_leader_records_leader_changed(
    client: TestClient[Any, Any], pool: asyncpg.Pool,
) -> None:
    for _ in range(100):
        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT org_id, details FROM audit_logs "
                                    "WHERE action = 'leader_changed'")
        if rows:
            break
        await asyncio.sleep(0.1)
    assert len(rows) == 1 and rows[0]["org_id"] is None and rows[0]["details"]["leader"]
