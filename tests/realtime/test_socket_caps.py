"""What one client may hold open: sockets per user (across workers) and Engine.IO sessions
that never complete the Socket.IO connect."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient

from bench.mini_client import MiniClient
from server.app import create_app
from server.config import ConfigError, Settings, load_settings
from server.live import HUB
from tests.conftest import World
from tests.waiting import eventually

Factory = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


async def served(aiohttp_client: Factory, settings: Settings) -> tuple[web.Application, str]:
    app = create_app(settings)
    http = await aiohttp_client(app)
    return app, str(http.make_url("")).rstrip("/")


async def opened(session: aiohttp.ClientSession, url: str, token: str) -> MiniClient:
    sock = MiniClient(session, url, auth={"token": token})
    await sock.connect()
    return sock


def test_settings_read_and_bounded() -> None:
    base = {"JWT_SECRET": "s" * 40}
    settings = load_settings({**base, "SOCKET_MAX_PER_USER": "5",
                              "SOCKET_CONNECT_TIMEOUT": "3"})
    assert (settings.socket_max_per_user, settings.socket_connect_timeout) == (5, 3.0)
    defaults = load_settings(base)
    assert (defaults.socket_max_per_user, defaults.socket_connect_timeout) == (20, 10.0)
    for bad in ({"SOCKET_MAX_PER_USER": "0"}, {"SOCKET_CONNECT_TIMEOUT": "0"},
                {"SOCKET_MAX_PER_USER": "many"}):
        with pytest.raises(ConfigError):
            load_settings({**base, **bad})


async def test_sockets_per_user_are_capped_across_workers(
        aiohttp_client: Factory, settings: Settings, world: World,
        session: aiohttp.ClientSession) -> None:
    capped = settings.model_copy(update={"socket_max_per_user": 3})
    one, url_one = await served(aiohttp_client, capped)
    two, url_two = await served(aiohttp_client, capped)
    org = await world.org()
    user = await world.user(org, "designer")
    other = await world.user(org, "designer")
    token = await world.token(one, user)
    held = [await opened(session, url_one, token), await opened(session, url_two, token),
            await opened(session, url_one, token)]
    for url in (url_one, url_two):
        with pytest.raises(ConnectionRefusedError) as refused:
            await opened(session, url, token)
        assert '"code":"too_many_sockets"' in str(refused.value).replace(" ", "")
        assert "at most 3 connections per user" in str(refused.value)
    await opened(session, url_two, await world.token(one, other))  # others are not counted
    await held[1].close()  # a slot given back on the other worker is free again
    await eventually(lambda: two[HUB].clients.count_of(str(user["id"])) == 0,
                     limit=5, interval=0.05)
    replacement = await opened(session, url_one, token)
    for sock in (*held, replacement):
        await sock.close()


async def test_slots_of_a_dead_worker_are_given_back(
        aiohttp_client: Factory, settings: Settings, world: World,
        session: aiohttp.ClientSession) -> None:
    capped = settings.model_copy(update={"socket_max_per_user": 2})
    app, url = await served(aiohttp_client, capped)
    org = await world.org()
    user = await world.user(org, "designer")
    token = await world.token(app, user)
    prefix = f"{settings.key_prefix}presence:"
    redis = aioredis.from_url(settings.redis_url or "")
    try:  # a worker that stopped beating a minute ago left two sockets behind
        await redis.zadd(f"{prefix}workers", {"gone": time.time() - 60})
        await redis.sadd(f"{prefix}sockets:{user['id']}", "gone|a", "gone|b")
        first = await opened(session, url, token)
        second = await opened(session, url, token)
        with pytest.raises(ConnectionRefusedError):
            await opened(session, url, token)
        assert await redis.scard(f"{prefix}sockets:{user['id']}") == 2
    finally:
        await redis.aclose()
    await first.close()
    await second.close()


async def test_unconnected_engineio_sessions_are_closed_at_the_deadline(
        aiohttp_client: Factory, settings: Settings, world: World,
        session: aiohttp.ClientSession) -> None:
    app, url = await served(aiohttp_client,
                            settings.model_copy(update={"socket_connect_timeout": 1.0}))
    org = await world.org()
    user = await world.user(org, "designer")
    token = await world.token(app, user)
    connected = await opened(session, url, token)
    ws_url = url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    silent = await session.ws_connect(ws_url)  # never sends the Socket.IO connect
    refused = await session.ws_connect(ws_url)  # sends one that is refused
    leaver = await opened(session, url, token)  # connects, then leaves the namespace only
    assert (await silent.receive_str()).startswith("0")
    assert (await refused.receive_str()).startswith("0")
    await refused.send_str('40{"token": "nope"}')
    assert (await refused.receive_str()).startswith("44")
    assert leaver.ws is not None
    await leaver.ws.send_str("41")
    async with session.get(f"{url}/socket.io/?EIO=4&transport=polling") as response:
        sid = (await response.text()).split('"sid":"')[1].split('"')[0]
    started = time.monotonic()
    for ws in (silent, refused):
        while not ws.closed:
            message = await ws.receive(timeout=5)
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
    assert time.monotonic() - started < 4
    await asyncio.wait_for(leaver.closed.wait(), 5)
    async with session.get(f"{url}/socket.io/?EIO=4&transport=polling&sid={sid}") as response:
        body = await response.text()
    assert response.status == 400 or body.startswith("1"), (response.status, body)
    [ack] = await connected.call("typing", {"project_id": "x"})  # past the deadline: served
    assert ack["error"]["code"] == "invalid"
    assert app[HUB].sio.closed_unconnected >= 3
    for sock in (connected, leaver):
        await sock.close()
    for ws in (silent, refused):
        await ws.close()


async def test_a_connect_cut_by_the_deadline_leaves_nothing_behind(
        aiohttp_client: Factory, settings: Settings, world: World,
        session: aiohttp.ClientSession) -> None:
    """The deadline closes a session whose connect handler is still running (say, queued
    behind a reconnect storm): the handler's socket is then disconnected, not kept."""
    app, url = await served(aiohttp_client,
                            settings.model_copy(update={"socket_connect_timeout": 1.0}))
    hub = app[HUB]
    org = await world.org()
    user = await world.user(org, "designer")
    token = await world.token(app, user)
    check = hub.authenticate
    entered = asyncio.Event()

    async def slow(value: str) -> Any:
        entered.set()
        await asyncio.sleep(1.5)
        return await check(value)

    hub.authenticate = slow
    ws = await session.ws_connect(url.replace("http", "ws")
                                  + "/socket.io/?EIO=4&transport=websocket")
    await ws.receive_str()
    await ws.send_str("40" + json.dumps({"token": token}))
    await asyncio.wait_for(entered.wait(), 5)
    await asyncio.sleep(2.0)
    assert len(hub.clients) == 0
    assert dict(hub.manager.rooms.get("/", {}).get(None, {})) == {}
    redis = aioredis.from_url(settings.redis_url or "")
    try:
        assert await redis.scard(f"{settings.key_prefix}presence:sockets:{user['id']}") == 0
    finally:
        await redis.aclose()
    await ws.close()
