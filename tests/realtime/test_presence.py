"""Presence in Redis: one round trip per join or leave, one broadcast per room per interval,
and no ghost users once a worker stops beating."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from realtime.hub.presence import Presence, RedisPresenceStore
from tests.cancellation import CancelBecomes, assert_ends_when_cancelled
from tests.waiting import eventually

ANA = {"id": "u-ana", "first_name": "Ana", "last_name": "Ng"}
BO = {"id": "u-bo", "first_name": "Bo", "last_name": "Li"}


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[tuple[aioredis.Redis, str]]:
    client = aioredis.from_url(redis_url)
    prefix = f"fpm:presence-test-{uuid.uuid4().hex[:8]}:"
    yield client, prefix
    keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_a_join_records_marks_and_takes_the_gate_in_one_round_trip(
        redis: tuple[aioredis.Redis, str]) -> None:
    client, prefix = redis
    a = RedisPresenceStore(client, prefix, "worker-a")
    b = RedisPresenceStore(client, prefix, "worker-b")
    assert await a.record("p1", 3.0, add=("sid-1", ANA)) is True  # first change: gate taken
    assert await b.record("p1", 3.0, add=("sid-2", BO)) is False  # coalesced behind it
    assert await b.take_dirty("p1") is True
    assert [u["id"] for u in await b.users("p1")] == ["u-ana", "u-bo"]
    await a.release_gate("p1")
    assert await a.record("p1", 3.0, remove="sid-1") is True
    assert [u["id"] for u in await a.users("p1")] == ["u-bo"]


async def test_a_dead_workers_users_are_reaped_and_the_room_told(
        redis: tuple[aioredis.Redis, str]) -> None:
    client, prefix = redis
    dying = RedisPresenceStore(client, prefix, "worker-dying", dead_after=0.3)
    living = RedisPresenceStore(client, prefix, "worker-living", dead_after=0.3)
    await dying.heartbeat()
    await living.heartbeat()
    await dying.record("p1", 3.0, add=("sid-1", ANA))
    await living.record("p1", 3.0, add=("sid-2", BO))
    sent: list[tuple[str, list[Any]]] = []

    async def send(project: str, users: list[Any]) -> None:
        sent.append((project, [u["id"] for u in users]))

    presence = Presence(living, send, interval=0.1)
    await asyncio.sleep(0.5)  # the dying worker beats no more; the living one does
    await living.heartbeat()
    assert await living.reap() == ["p1"]
    assert [u["id"] for u in await living.users("p1")] == ["u-bo"]
    await living.release_gate("p1")
    await presence.changed("p1")
    await eventually(lambda: sent, limit=1, interval=0.02)
    assert sent[0] == ("p1", ["u-bo"])  # no ghost user in the broadcast
    await presence.close()


async def test_maintenance_ends_when_cancelled_even_if_redis_says_timeout(
        redis: tuple[aioredis.Redis, str]) -> None:
    """A cancel that lands inside a Redis call can come back as redis-py's TimeoutError
    (Python 3.11): the maintenance loop must end anyway, or the hub's shutdown hangs."""
    from redis.exceptions import TimeoutError as RedisTimeout

    client, prefix = redis
    store = RedisPresenceStore(client, prefix, "worker-a")
    heartbeat = CancelBecomes(RedisTimeout("Timeout reading from socket"))
    store.heartbeat = heartbeat  # type: ignore[method-assign]

    async def send(project: str, users: list[Any]) -> None:
        return None

    presence = Presence(store, send, interval=0.05)
    await assert_ends_when_cancelled(asyncio.create_task(presence.maintain()), heartbeat)
