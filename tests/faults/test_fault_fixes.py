"""Focused regression tests for what the fault suite found (these run in the normal suite)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient

from realtime.hub.socketio_ext.bus import RedisManager
from server.config import ConfigError, load_settings
from server.errors import error_middleware
from tests.conftest import RedisServer
from tests.waiting import eventually


def test_leader_stall_after_setting() -> None:
    base = {"JWT_SECRET": "s" * 40}
    assert load_settings(base).leader_stall_after == 15.0
    assert load_settings({**base, "LEADER_STALL_AFTER": "6"}).leader_stall_after == 6.0
    with pytest.raises(ConfigError, match="at least 5"):
        load_settings({**base, "LEADER_STALL_AFTER": "4"})


async def test_a_client_state_error_of_asyncpg_is_503_not_500(
        aiohttp_client: Any) -> None:
    """After a PostgreSQL restart a broken connection can raise InternalClientError."""

    async def broken(request: web.Request) -> web.Response:
        raise asyncpg.InternalClientError("protocol is in an unknown state")

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/", broken)
    client: TestClient[Any, Any] = await aiohttp_client(app)
    answer = await client.get("/")
    assert answer.status == 503
    assert answer.content_type == "application/problem+json"
    assert answer.headers["Retry-After"] == "2"


async def test_bus_tells_resync_once_after_resubscribing_and_before_new_messages() -> None:
    """Once per Redis return (not per failed attempt), and before the first message of the
    new subscription, so a client resyncing from its cursor then misses nothing."""
    redis = RedisServer()
    channel = "fpm:bus-test:socketio"
    manager = RedisManager(redis.url, channel=channel)
    seen: list[Any] = []

    async def told() -> None:
        seen.append("resync")

    manager._tell_resync = told  # type: ignore[method-assign]  # observe the call only

    async def listen() -> None:
        async for message in manager._redis_listen_with_retries():
            seen.append(message["data"])

    async def publish_until_heard(data: str) -> None:
        async def heard() -> bool:
            if data.encode() in seen:
                return True
            publisher = aioredis.from_url(redis.url)
            try:
                await publisher.publish(channel, data)
            except (OSError, aioredis.RedisError):
                pass
            finally:
                await publisher.aclose()
            return False

        await eventually(heard, limit=15, interval=0.1, explain=lambda: f"seen: {seen}")

    task = asyncio.create_task(listen())
    try:
        await publish_until_heard("before")
        redis.stop()
        await asyncio.sleep(3.5)  # several failed attempts to re-subscribe
        redis.start()
        await publish_until_heard("after")
        assert seen.count("resync") == 1, seen
        assert seen.index("resync") < seen.index(b"after")
        assert manager.resubscribes == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        redis.stop()


async def test_bus_client_is_bounded_and_replaced_not_leaked(redis_url: str) -> None:
    """The bus publishes through a pool of at most POOL_MAX connections that makes a
    publisher wait (redis-py's default fails beyond 100 and drops that publish); each
    reconnect closes the client it replaces."""
    from realtime.hub.socketio_ext.bus import POOL_MAX

    manager = RedisManager(redis_url, channel="fpm:bus-pool-test:socketio")
    manager._redis_connect()
    first = manager.redis
    pool = first.connection_pool
    assert isinstance(pool, aioredis.BlockingConnectionPool)
    assert pool.max_connections == POOL_MAX
    # More concurrent publishes than connections: they queue for one; none is refused.
    results = await asyncio.gather(*(manager.redis.publish(manager.channel, "x")
                                     for _ in range(POOL_MAX * 4)))
    assert len(results) == POOL_MAX * 4
    manager._redis_connect()
    assert manager.redis is not first
    assert manager._closing  # the old client is being closed in the background...
    await asyncio.gather(*manager._closing)
    assert not manager._closing  # ...and is
    await manager.redis.aclose()
