"""The change leader's cache invalidation (`server.live.invalidation`): with Redis, commands
for the head of its publish's pipeline, and the same work done alone when they cannot go."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis

from realtime.feed.events import Event
from server.cache.keys import project_generation_key, record_key
from server.cache.store import TOMBSTONE_BYTES, MemoryCache, RedisCache
from server.live import invalidation

PROJECT, TASK, ORG = (str(uuid.uuid4()) for _ in range(3))


def _event() -> Event:
    return Event(name="task.updated", rooms=(f"project:{PROJECT}",), payload={}, table="tasks",
                 action="UPDATE", audit_id=1, project_id=PROJECT, record_id=TASK, org_id=ORG)


async def test_with_redis_the_commands_do_what_retire_does(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    cache = RedisCache(client, f"fpm-test-{uuid.uuid4().hex}:")
    try:
        prelude = invalidation(cache, [_event()])
        assert prelude is not None
        async with client.pipeline(transaction=False) as pipe:
            for command in prelude.commands:
                pipe.execute_command(*command)
            await pipe.execute()
        assert await client.get(cache.prefix + record_key("tasks", TASK)) == TOMBSTONE_BYTES
        assert await cache.generations([project_generation_key(PROJECT)]) == [1]
        await prelude.alone()  # the same, through the cache's own client
        assert await cache.generations([project_generation_key(PROJECT)]) == [2]
    finally:
        await client.delete(*[c[1] for c in prelude.commands])
        await client.aclose()


async def test_without_redis_it_is_done_alone() -> None:
    cache = MemoryCache("fpm-test:")
    await cache.set(record_key("tasks", TASK), {"id": TASK}, 60)
    prelude = invalidation(cache, [_event()])
    assert prelude is not None and prelude.commands == ()
    await prelude.alone()
    assert await cache.get(record_key("tasks", TASK)) is None  # a tombstone reads as a miss


def test_nothing_to_invalidate_is_no_prelude() -> None:
    assert invalidation(MemoryCache("fpm-test:"), []) is None


def test_an_event_that_cannot_be_planned_costs_its_invalidation_only(
        caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        table = "tasks"

        def change(self) -> Any:
            raise ValueError("a poisoned audit row")

    assert invalidation(MemoryCache("fpm-test:"), [Broken()]) is None  # type: ignore[list-item]
    assert "cache invalidation" in caplog.text
