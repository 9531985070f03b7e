"""Changing who a user is (role, status, client company) ends their sessions everywhere.

Moving a client user to another client must not leave them the old client's projects for
the life of a token, a cached session, or a socket subscription: the move revokes their
sessions (so the old token is refused at once, whatever was cached), and their live socket
stops receiving the old client's project events. The same holds when the change does not
come through the users API (an import, plain SQL): the change leader ends the sessions.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from db.pool import system_transaction
from server.auth.sessions import ends_sessions, identity_changed
from tests.conftest import World
from tests.realtime.conftest import Sock, add_task
from tests.waiting import eventually

Client = TestClient[Any, Any]
LIVENESS = 10.0


async def _setting(world: World, client: Client) -> dict[str, Any]:
    org = await world.org()
    first, second = (await world.client_record(org, "Old Co"),
                     await world.client_record(org, "New Co"))
    admin = await world.user(org, "admin")
    mover = await world.user(org, "client", client_id=first)
    colleague = await world.user(org, "client", client_id=first)
    project = await world.project(org, client_id=first)
    return {"org": org, "old": first, "new": second, "admin": admin, "mover": mover,
            "colleague": colleague, "project": project}


async def _watching(client: Client, world: World, user: dict[str, Any], project: uuid.UUID,
                    make: Callable[[], Sock]) -> Sock:
    sock = make()
    await sock.connect(str(client.make_url("")).rstrip("/"), await world.token(client.app, user))
    ack = await sock.call("subscribe", {"project_id": str(project)})
    assert ack["ok"], ack
    return sock


def _of_project(sock: Sock, project: uuid.UUID) -> list[dict[str, Any]]:
    return [e for e in sock.changes() if e.get("project_id") == str(project)]


async def test_moving_a_client_user_to_another_client_ends_their_access_at_once(
    client: Client, world: World, app: web.Application, pool: asyncpg.Pool,
    socks: Callable[[], Sock],
) -> None:
    s = await _setting(world, client)
    headers = await world.headers(app, s["mover"])
    old_record = f"/api/v1/clients/{s['old']}"
    for _ in range(2):  # the session facts and the old client's record are now cached
        assert (await client.get(old_record, headers=headers)).status == 200
    mover = await _watching(client, world, s["mover"], s["project"], socks)
    control = await _watching(client, world, s["colleague"], s["project"], socks)

    moved = await client.patch(f"/api/v1/users/{s['mover']['id']}",
                               headers=await world.headers(app, s["admin"]),
                               json={"client_id": str(s["new"])})
    assert moved.status == 200 and (await moved.json())["client_id"] == str(s["new"])
    assert (await client.get(old_record, headers=headers)).status == 401
    assert (await client.get("/api/v1/auth/me", headers=headers)).status == 401

    await add_task(pool, s["admin"], s["project"], "After the move")
    await control.wait_for(lambda: any(e["resource"] == "task" for e in
                                       _of_project(control, s["project"])))
    await mover.wait_for(mover.disconnected.is_set)
    assert [e for e in _of_project(mover, s["project"]) if e["resource"] == "task"] == []


async def test_a_move_outside_the_api_ends_the_sessions_through_the_change_leader(
    client: Client, world: World, app: web.Application, pool: asyncpg.Pool,
    socks: Callable[[], Sock],
) -> None:
    s = await _setting(world, client)
    headers = await world.headers(app, s["mover"])
    assert (await client.get("/api/v1/auth/me", headers=headers)).status == 200
    mover = await _watching(client, world, s["mover"], s["project"], socks)
    async with system_transaction(pool) as conn:  # an import or plain SQL: no users API
        await conn.execute("UPDATE users SET client_id = $1 WHERE id = $2", s["new"],
                           s["mover"]["id"])
    async def refused() -> bool:
        return (await client.get("/api/v1/auth/me", headers=headers)).status == 401

    await eventually(refused, limit=LIVENESS, interval=0.05, explain="the old token still works")
    await mover.wait_for(mover.disconnected.is_set)


def test_which_changes_end_sessions() -> None:
    user = {"role": "client", "status": "active", "client_id": "a", "org_id": "o",
            "phone": "1"}
    assert not identity_changed(user, {**user, "phone": "2"})
    for field, value in (("role", "designer"), ("status", "inactive"), ("client_id", "b"),
                         ("org_id", "p")):
        assert identity_changed(user, {**user, field: value})
    assert ends_sessions(["client_id"], "active") and ends_sessions(["role"], "active")
    assert ends_sessions(["status"], "inactive")
    # An invited user setting a password becomes active: the session just started stays.
    assert not ends_sessions(["password_hash", "status"], "active")
    assert not ends_sessions(["last_login_at", "phone"], "active")
