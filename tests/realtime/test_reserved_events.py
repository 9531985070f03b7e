"""A client-sent `connect` / `disconnect` event must not take a socket out of eviction and
revocation; and those walk the rooms the Socket.IO manager really holds, not a record the
hub could lose.

Absence is proved with a later event: after the action, changes that the attacked socket
must not get go out to rooms it was in (project, organisation, its user), then one that a
control socket must get; once the control has it, everything before it has been emitted.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bench.mini_client import MiniClient
from db.pool import system_transaction
from realtime.hub.clients import Client
from server.app import create_app
from server.config import Settings
from server.live import HUB
from tests.conftest import World
from tests.realtime.conftest import Sock

Factory = Callable[..., Awaitable[TestClient[Any, Any]]]
# What reaches a socket through its project, organisation and user rooms: after a removal
# from the project only the first must not reach it (the user still belongs to the org).
LATER = ("task.created", "user.created", "notification")


@dataclass
class Scene:
    app: web.Application
    http: TestClient[Any, Any]
    url: str
    admin: dict[str, Any]
    victim: dict[str, Any]
    watcher: dict[str, Any]
    project: uuid.UUID
    victim_token: str
    attacked: MiniClient
    control: Sock


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


async def stage(aiohttp_client: Factory, settings: Settings, world: World,
                session: aiohttp.ClientSession, socks: Callable[[], Sock]) -> Scene:
    """A project with a victim (the attacked socket) and a watcher (the control socket),
    both staff, both subscribed."""
    app = create_app(settings)
    http = await aiohttp_client(app)
    url = str(http.make_url("")).rstrip("/")
    org = await world.org()
    admin = await world.user(org, "admin")
    victim = await world.user(org, "designer", first_name="Victim")
    watcher = await world.user(org, "designer", first_name="Watcher")
    project = await world.project(org, members=[victim, watcher])
    token = await world.token(app, victim)
    attacked = MiniClient(session, url, keep=True, auth={"token": token})
    await attacked.connect()
    [ack] = await attacked.call("subscribe", {"project_id": str(project)})
    assert ack["ok"], ack
    control = socks()
    await control.connect(url, await world.token(app, watcher))
    assert (await control.call("subscribe", {"project_id": str(project)}))["ok"]
    return Scene(app, http, url, admin, victim, watcher, project, token, attacked, control)


async def notify(pool: asyncpg.Pool, user: dict[str, Any], title: str) -> None:
    async with system_transaction(pool) as conn:
        await conn.execute(
            "INSERT INTO notifications (org_id, user_id, type, title, message) "
            "VALUES ($1, $2, 'test', $3, 'x')", user["org_id"], user["id"], title)


async def later_changes(scene: Scene, world: World, pool: asyncpg.Pool) -> int:
    """Changes to the victim's rooms, then a marker for the control; the victim's event
    count from before them."""
    mark = len(scene.attacked.events)
    await notify(pool, scene.victim, "for the victim")
    headers = await world.headers(scene.app, scene.admin)
    created = await scene.http.post("/api/v1/tasks", headers=headers, json={
        "project_id": str(scene.project), "name": "after the action"})
    assert created.status == 201, await created.text()
    await world.user(scene.admin["org_id"], "designer", first_name="Later")
    await notify(pool, scene.watcher, "marker")
    control = scene.control
    await control.wait_for(lambda: bool(control.named("notification"))
                           and bool(control.named("task.created"))
                           and bool(control.named("user.created")))
    await asyncio.sleep(0.2)  # the victim's frames of the same emits, were there any
    return mark


def received_after(client: MiniClient, mark: int, action: str) -> list[str]:
    later = LATER[:1] if action == "removal" else LATER
    return [name for name, _ in client.events[mark:] if name in later]


async def attack(scene: Scene, world: World, kind: str) -> Any:
    """A fake `disconnect`, or a fake `connect` with another user's token."""
    if kind == "disconnect":
        await scene.attacked.emit("disconnect")
    else:
        other = await world.user(scene.admin["org_id"], "designer", first_name="Other")
        await scene.attacked.emit("connect", {}, {"token": await world.token(scene.app, other)})
    # Handled in order: once this answers, the fake event has been processed.
    [ack] = await scene.attacked.call("typing", {"project_id": str(scene.project)})
    return ack


async def act(scene: Scene, world: World, action: str) -> None:
    headers = await world.headers(scene.app, scene.admin)
    victim = scene.victim["id"]
    if action == "removal":
        done = await scene.http.delete(
            f"/api/v1/projects/{scene.project}/members/{victim}", headers=headers)
        control = scene.control
        await control.wait_for(lambda: bool(control.named("project_member.deleted")))
    elif action == "deactivation":
        done = await scene.http.delete(f"/api/v1/users/{victim}", headers=headers)
    else:
        done = await scene.http.post("/api/v1/auth/logout", headers={
            "Authorization": f"Bearer {scene.victim_token}"})
    assert done.status == 204, await done.text()


@pytest.mark.parametrize("action", ["removal", "deactivation", "logout"])
@pytest.mark.parametrize("kind", ["disconnect", "connect"])
async def test_fake_connect_or_disconnect_does_not_escape_eviction_or_revocation(
        aiohttp_client: Factory, settings: Settings, world: World, pool: asyncpg.Pool,
        session: aiohttp.ClientSession, socks: Callable[[], Sock], kind: str,
        action: str) -> None:
    scene = await stage(aiohttp_client, settings, world, session, socks)
    typing = await attack(scene, world, kind)
    await act(scene, world, action)
    mark = await later_changes(scene, world, pool)
    assert received_after(scene.attacked, mark, action) == []
    assert typing == {"ok": True}  # the socket was still itself after the fake event
    if action == "removal":
        assert {"project_id": str(scene.project), "reason": "access_revoked"} in [
            args[0] for name, args in scene.attacked.events if name == "evicted"]
    else:
        assert scene.attacked.closed.is_set()
    await scene.attacked.close()


async def test_reserved_names_are_answered_and_never_dispatched(
        aiohttp_client: Factory, settings: Settings, world: World,
        session: aiohttp.ClientSession, socks: Callable[[], Sock]) -> None:
    scene = await stage(aiohttp_client, settings, world, session, socks)
    for name in ("connect", "disconnect", "connect_error", "disconnecting", "*",
                 "newListener", "removeListener"):
        [ack] = await scene.attacked.call(name, {}, {"token": scene.victim_token})
        assert ack == {"ok": False, "error": {"code": "unknown_event",
                                              "message": f"unknown event {name!r}"}}
    [ack] = await scene.attacked.call("typing", {"project_id": str(scene.project)})
    assert ack == {"ok": True}
    await scene.attacked.close()


@pytest.mark.parametrize("action", ["removal", "logout"])
async def test_eviction_and_revocation_walk_the_managers_rooms(
        aiohttp_client: Factory, settings: Settings, world: World, pool: asyncpg.Pool,
        session: aiohttp.ClientSession, socks: Callable[[], Sock], action: str) -> None:
    """Whatever the hub's own record says (forgotten, or another user's), a socket in
    the manager's rooms is evicted and revoked: a socket without a true record is cut."""
    scene = await stage(aiohttp_client, settings, world, session, socks)
    hub = scene.app[HUB]
    sid = str(scene.attacked.sid)
    if action == "removal":
        hub.clients.pop(sid)  # as if the hub had forgotten the socket
    else:  # as if the record had been swapped for another user's
        record = hub.clients.get(sid)
        assert record is not None
        hub.clients.add(Client(sid=sid, user_id=str(scene.watcher["id"]), org_id=record.org_id,
                               role=record.role, session_id=str(uuid.uuid4())))
    await act(scene, world, action)
    mark = await later_changes(scene, world, pool)
    assert received_after(scene.attacked, mark, action) == []
    await asyncio.wait_for(scene.attacked.closed.wait(), 5)
