"""Bulk imports are told apart by a server-only setting, never by what a client sends.

A REST write whose client-chosen `X-Request-ID` looks like an import's is an ordinary write:
it reaches subscribers live and re-checks who may still see the project. A real import is
not sent row by row (one `import.completed` instead), yet its changes invalidate the cache
and re-check the subscribers of every project whose visibility it changed.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from db.pool import Actor, system_transaction
from importer import import_legacy
from tests.conftest import World
from tests.realtime.conftest import Sock
from tests.server.test_legacy_import import legacy_data
from tests.waiting import eventually

Client = TestClient[Any, Any]
LIVENESS = 10.0


async def _subscribed(client: Client, world: World, user: dict[str, Any],
                      project: uuid.UUID, make: Callable[[], Sock]) -> Sock:
    sock = make()
    await sock.connect(str(client.make_url("")).rstrip("/"), await world.token(client.app, user))
    ack = await sock.call("subscribe", {"project_id": str(project)})
    assert ack["ok"], ack
    return sock


def _evicted_from(sock: Sock, project: Any) -> bool:
    return any(e["project_id"] == str(project) for e in sock.named("evicted"))


async def test_a_rest_write_with_an_import_like_request_id_is_an_ordinary_write(
    client: Client, world: World, app: web.Application, pool: asyncpg.Pool,
    socks: Callable[[], Sock],
) -> None:
    org = await world.org()
    admin, pm = await world.user(org, "admin"), await world.user(org, "project_manager")
    first, second = await world.client_record(org, "One"), await world.client_record(org, "Two")
    customer = await world.user(org, "client", client_id=first)
    project = await world.project(org, members=[pm], client_id=first)
    staff = await _subscribed(client, world, pm, project, socks)
    watcher = await _subscribed(client, world, customer, project, socks)
    response = await client.patch(
        f"/api/v1/projects/{project}", json={"client_id": str(second)},
        headers={**await world.headers(app, admin), "X-Request-ID": "import-legacy:x"})
    assert response.status == 200, await response.text()
    await staff.wait_for(lambda: bool(staff.named("project.updated")))
    event = staff.named("project.updated")[0]
    assert event["request_id"] == "import-legacy:x" and "client_id" in event["changed_fields"]
    await watcher.wait_for(lambda: _evicted_from(watcher, project))
    assert watcher.named("evicted")[0]["reason"] == "access_revoked"
    async with system_transaction(pool) as conn:
        assert not await conn.fetchval(
            "SELECT bool_or(bulk) FROM audit_logs WHERE request_id = 'import-legacy:x'")


async def test_the_bulk_mark_comes_only_from_the_server_setting(
    pool: asyncpg.Pool, world: World,
) -> None:
    org = await world.org()
    admin = await world.user(org, "admin")
    actor = Actor(admin["id"], org, role="admin", request_id="import-legacy:spoofed")
    async with system_transaction(pool, actor) as conn:
        await conn.execute("INSERT INTO clients (org_id, name) VALUES ($1, 'Plain')", org)
    async with system_transaction(pool, Actor(admin["id"], org, request_id="r"),
                                  bulk=True) as conn:
        await conn.execute("INSERT INTO clients (org_id, name) VALUES ($1, 'Bulk')", org)
    async with system_transaction(pool) as conn:  # the same pooled connection: reset
        await conn.execute("INSERT INTO clients (org_id, name) VALUES ($1, 'After')", org)
        marks = dict(await conn.fetch(
            "SELECT new_values->>'name', bulk FROM audit_logs WHERE table_name = 'clients'"))
    assert marks == {"Plain": False, "Bulk": True, "After": False}


def _moved_export(tmp: Path, project: int, client: int, client_name: str) -> Path:
    """The real export with one project handed to another client."""
    data = tmp / "export"
    shutil.copytree(legacy_data(), data)
    path = data / "projects.json"
    path.chmod(0o644)
    projects = json.loads(path.read_text(encoding="utf-8"))
    for record in projects:
        if record["id"] == project:
            record["clientId"], record["clientName"] = client, client_name
    path.write_text(json.dumps(projects), encoding="utf-8")
    return data


async def test_an_import_is_not_sent_row_by_row_yet_invalidates_and_rechecks(
    client: Client, world: World, app: web.Application, pool: asyncpg.Pool,
    socks: Callable[[], Sock], tmp_path: Path,
) -> None:
    slug = f"bulk-{uuid.uuid4().hex[:6]}"
    org = await world.org(slug)
    admin = await world.user(org, "admin", email=f"admin@{slug}.test")
    await import_legacy(pool, legacy_data(), org_slug=slug)
    async with system_transaction(pool) as conn:
        project = await conn.fetchval(
            "SELECT id FROM projects WHERE org_id = $1 AND legacy_id = '2004'", org)
        zorlu = await conn.fetchval(
            "SELECT id FROM clients WHERE org_id = $1 AND legacy_id = '4'", org)
        sabanci = await conn.fetchval(
            "SELECT id FROM clients WHERE org_id = $1 AND legacy_id = '5'", org)
    customer = await world.user(org, "client", client_id=zorlu)
    headers = await world.headers(app, admin)
    url = f"/api/v1/projects/{project}"
    for _ in range(2):  # cached now
        cached = await (await client.get(url, headers=headers)).json()
    assert cached["client_id"] == str(zorlu)
    staff = await _subscribed(client, world, admin, project, socks)
    watcher = await _subscribed(client, world, customer, project, socks)

    await import_legacy(pool, _moved_export(tmp_path, 2004, 5, "Sabancı Holding"),
                        org_slug=slug)
    await staff.wait_for(lambda: bool(staff.named("import.completed")))
    await watcher.wait_for(lambda: _evicted_from(watcher, project))
    await asyncio.sleep(0.3)  # anything sent row by row came before the summary
    assert [e for e in staff.changes() if e["resource"] != "import"] == []
    async def moved() -> bool:
        return bool((await (await client.get(url, headers=headers)).json())["client_id"]
                    == str(sabanci))

    await eventually(moved, limit=LIVENESS, interval=0.05,
                     explain="the cached project was not invalidated")
