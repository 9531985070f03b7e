"""Abuse limits on the socket hub and the HTTP edge: each a clear error, nobody else hurt."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from realtime.hub.limits import REFUSALS_BEFORE_DISCONNECT, TokenBucket
from server.app import create_app
from server.config import Settings
from tests.conftest import World
from tests.realtime.conftest import Sock, add_task

Factory = Callable[..., Awaitable[TestClient[Any, Any]]]


def test_token_bucket_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=10, burst=3, tokens=3)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.05) is False and bucket.take(0.2) is True
    flood = TokenBucket(rate=1, burst=1, tokens=0)
    for _ in range(REFUSALS_BEFORE_DISCONNECT):
        flood.take(0.0)
    assert flood.flooding


async def _live(aiohttp_client: Factory, settings: Settings,
                world: World) -> tuple[Any, str, Any, Any, Any]:
    app = create_app(settings)
    http = await aiohttp_client(app)
    org = await world.org()
    admin = await world.user(org, "admin")
    project = await world.project(org, members=[admin])
    return app, str(http.make_url("")).rstrip("/"), admin, project, http


async def test_an_event_flood_is_throttled_and_others_unaffected(
    aiohttp_client: Factory, memory_settings: Settings, pool: asyncpg.Pool, world: World,
    socks: Callable[[], Sock],
) -> None:
    app, url, admin, project, _ = await _live(aiohttp_client, memory_settings, world)
    flooder, calm = socks(), socks()
    await flooder.connect(url, await world.token(app, admin))
    await calm.connect(url, await world.token(app, admin))
    assert (await calm.call("subscribe", {"project_id": str(project)}))["ok"]
    acks = await asyncio.gather(*(flooder.call("typing", {"project_id": str(project)})
                                  for _ in range(120)))
    codes = {a.get("error", {}).get("code") for a in acks if not a["ok"]}
    assert "rate_limited" in codes
    await add_task(pool, admin, project, "still delivered")
    await calm.wait_for(lambda: bool(calm.named("task.created")))


async def test_subscriptions_per_socket_are_capped(
    aiohttp_client: Factory, memory_settings: Settings, pool: asyncpg.Pool, world: World,
    socks: Callable[[], Sock], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("realtime.hub.handlers.MAX_SUBSCRIPTIONS", 2)
    app, url, admin, project, _ = await _live(aiohttp_client, memory_settings, world)
    others = [await world.project(admin["org_id"], name=f"P{i}") for i in range(2)]
    sock = socks()
    await sock.connect(url, await world.token(app, admin))
    assert (await sock.call("subscribe", {"project_id": str(project)}))["ok"]
    assert (await sock.call("subscribe", {"project_id": str(others[0])}))["ok"]
    refused = await sock.call("subscribe", {"project_id": str(others[1])})
    assert refused == {"ok": False, "error": {
        "code": "too_many_subscriptions", "message": "at most 2 projects per connection"}}


async def test_oversized_and_malformed_frames_do_not_disturb_the_worker(
    aiohttp_client: Factory, memory_settings: Settings, pool: asyncpg.Pool, world: World,
    socks: Callable[[], Sock],
) -> None:
    settings = memory_settings.model_copy(update={"socket_max_message_bytes": 4096})
    app, url, admin, project, _ = await _live(aiohttp_client, settings, world)
    calm = socks()
    await calm.connect(url, await world.token(app, admin))
    assert (await calm.call("subscribe", {"project_id": str(project)}))["ok"]
    ws_url = url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(ws_url) as ws:  # garbage, then a huge frame
            await ws.receive()  # the Engine.IO open packet
            for frame in ("garbage", "4{not json", "42[\"subscribe\", {", "\x00\xff"):
                await ws.send_str(frame)
            await ws.send_str("42" + '["typing", "' + "x" * 100_000 + '"]')
            # The offending connection is dropped (closed, or cut mid-frame)...
            closed = await ws.receive(timeout=5)
            assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                   aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR)
    # ...while the worker goes on serving everyone else.
    await add_task(pool, admin, project, "after the garbage")
    await calm.wait_for(lambda: bool(calm.named("task.created")))


async def test_cors_only_for_configured_origins(
    aiohttp_client: Factory, memory_settings: Settings, pool: asyncpg.Pool,
) -> None:
    app = create_app(memory_settings.model_copy(
        update={"cors_origins": ("https://pm.example.test",)}))
    http = await aiohttp_client(app)
    allowed = await http.get("/health", headers={"Origin": "https://pm.example.test"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://pm.example.test"
    other = await http.get("/health", headers={"Origin": "https://evil.example.test"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = await http.options("/api/v1/tasks", headers={
        "Origin": "https://pm.example.test", "Access-Control-Request-Method": "PATCH"})
    assert preflight.status == 204
    assert "If-Match" in preflight.headers["Access-Control-Allow-Headers"]
    for name in ("X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy",
                 "Referrer-Policy"):
        assert name in other.headers
