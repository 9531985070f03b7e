"""The cache: key planning, both backends, and surviving a Redis outage."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import redis.asyncio as aioredis

from db.committed import Change
from server.cache.keys import plan, plan_all
from server.cache.store import MemoryCache, RedisCache, invalidate, keep_epoch
from server.config import Settings
from tests.conftest import RedisServer
from tests.waiting import eventually


def test_plan_for_a_task_change_retires_record_and_project_lists() -> None:
    task, project, org = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    todo = plan(Change("tasks", task, project, org))
    assert todo.delete == {f"rec:tasks:{task}"}
    assert todo.bump == {f"gen:p:{project}", f"search:gen:{org}"}


def test_plan_for_membership_also_retires_visibility() -> None:
    member, project, org = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    todo = plan(Change("project_members", member, project, org))
    assert todo.bump == {f"gen:p:{project}", f"gen:o:{org}"}
    project_change = plan(Change("projects", project, project, org))
    assert project_change.bump == {f"gen:p:{project}", f"gen:o:{org}", f"search:gen:{org}"}
    client_change = plan_all([Change("clients", uuid.uuid4(), None, org)])
    assert client_change.bump == {f"gen:o:{org}", f"search:gen:{org}"}


async def test_memory_cache_round_trip_and_generations() -> None:
    cache = MemoryCache("t:")
    await cache.set("a", {"x": 1, "when": uuid.UUID(int=1)}, 10)
    assert await cache.get("a") == {"x": 1, "when": str(uuid.UUID(int=1))}
    assert await cache.generations(["g"]) == [0]
    await invalidate(cache, [Change("tasks", "1", "p", "o")])
    assert await cache.get("rec:tasks:1") is None
    assert await cache.generations(["gen:p:p"]) == [1]
    assert cache.stats()["hits"] == 1


async def test_redis_outage_degrades_then_recovers_with_a_new_epoch() -> None:
    server = RedisServer()
    client = aioredis.from_url(server.url, socket_timeout=0.5, socket_connect_timeout=0.5)
    cache = RedisCache(client, f"t{uuid.uuid4().hex[:6]}:", log_interval=0)
    task = asyncio.create_task(keep_epoch(cache, interval=0.1))
    try:
        await cache.set("k", "before", 60)
        assert await cache.get("k") == "before"
        server.stop()
        assert await cache.get("k") is None  # a miss, never an exception
        await cache.set("k", "during", 60)
        await cache.delete("k")
        assert cache.stats()["status"] == "degraded" and cache.stats()["errors"] >= 3
        server.start()
        await eventually(lambda: cache.healthy and cache.epoch >= 1, limit=5, interval=0.1)
        await cache.set("k", "after", 60)
        assert await cache.get("k") == "after"
    finally:
        task.cancel()
        await client.aclose()
        server.stop()


async def test_health_reports_degraded_cache_without_failing(
    aiohttp_client: Any, settings: Settings, pool: Any,
) -> None:
    from server.app import create_app

    server = RedisServer()
    try:
        app = create_app(settings.model_copy(update={"redis_url": server.url}))
        http = await aiohttp_client(app)
        ready = await (await http.get("/health/ready")).json()
        assert ready["cache"]["status"] == "healthy"
        server.stop()
        response = await http.get("/health/ready")
        assert response.status == 200  # the database still answers
        body = await response.json()
        assert body["cache"]["status"] == "degraded"
    finally:
        server.stop()
