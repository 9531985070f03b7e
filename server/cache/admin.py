"""Operating the cache: workers publish their statistics to Redis; operators read them and
flush everything (the shared epoch) or one organisation (its generations and records)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import RedisError

from db.cancellation import stop_if_cancelled
from db.queries import organizations
from db.schema import metadata
from db.tables import AUDITED_TABLES
from server.cache.keys import (
    org_generation_key,
    project_generation_key,
    record_key,
    search_generation_key,
)
from server.keys import CACHE, REDIS, SETTINGS

STATS_KEY = "cache:stats"  # a hash: worker name -> its latest statistics (JSON)
DELETE_BATCH = 1000


def epoch_key(prefix: str) -> str:
    return prefix + "epoch"


async def publish_stats(client: aioredis.Redis, prefix: str, worker: str,
                        stats: dict[str, Any]) -> None:
    await client.hset(prefix + STATS_KEY, worker,
                      json.dumps({**stats, "published_at": time.time()}))


async def stats_ctx(app: web.Application) -> AsyncIterator[None]:
    """Publish this worker's cache statistics every CACHE_STATS_INTERVAL seconds."""
    settings = app[SETTINGS]
    client, worker = app[REDIS], settings.worker

    async def loop() -> None:
        while True:
            stop_if_cancelled()
            with contextlib.suppress(RedisError, OSError):
                await publish_stats(client, settings.key_prefix, worker,
                                    {**app[CACHE].stats(), "orgs": app[CACHE].org_counts()})
            await asyncio.sleep(settings.cache_stats_interval)

    task = asyncio.create_task(loop(), name="cache-stats")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    with contextlib.suppress(RedisError, OSError):
        await client.hdel(settings.key_prefix + STATS_KEY, worker)


async def read_stats(client: aioredis.Redis, prefix: str) -> dict[str, Any]:
    """Per worker (as last published) and for the deployment's keys in Redis."""
    raw = await client.hgetall(prefix + STATS_KEY)
    now = time.time()
    workers = {}
    for name, value in sorted(raw.items()):
        data = json.loads(value)
        data.pop("orgs", None)
        data["age_seconds"] = round(now - float(data.pop("published_at", now)), 1)
        workers[name.decode() if isinstance(name, bytes) else name] = data
    hits = sum(int(w.get("hits", 0)) for w in workers.values())
    misses = sum(int(w.get("misses", 0)) for w in workers.values())
    keys = 0
    async for _ in client.scan_iter(match=prefix + "*", count=1000):
        keys += 1
    memory = await client.info("memory")
    return {"hits": hits, "misses": misses,
            "hit_rate": round(hits / (hits + misses), 4) if hits + misses else 0.0,
            "keys": keys, "epoch": int(await client.get(epoch_key(prefix)) or 0),
            "redis_used_memory": memory.get("used_memory_human"), "workers": workers}


async def flush_all(client: aioredis.Redis, prefix: str) -> int:
    """A new epoch: every worker stops reading what was cached before (within a second)."""
    return int(await client.incr(epoch_key(prefix)))


def org_tables() -> list[str]:
    return [t for t in AUDITED_TABLES
            if t == "organizations" or "org_id" in metadata.tables[t].columns]


async def org_keys(conn: asyncpg.Connection, org_id: uuid.UUID) -> tuple[list[str], list[str]]:
    """(generations to bump, records to delete) of one organisation."""
    projects = await organizations.project_ids(conn, org_id)
    bump = [org_generation_key(org_id), search_generation_key(org_id),
            *(project_generation_key(p) for p in projects)]
    records = [record_key("organizations", org_id)]
    for table in org_tables():
        if table == "organizations":
            continue
        records += [record_key(table, i) for i in await organizations.row_ids(conn, table, org_id)]
    return bump, records


async def flush_org(client: aioredis.Redis, prefix: str, bump: list[str],
                    records: list[str]) -> None:
    """Bump the organisation's generations (its lists, summaries, searches and everyone's
    visible-project sets go) and delete its records, under the current epoch."""
    base = f"{prefix}e{int(await client.get(epoch_key(prefix)) or 0)}:"
    async with client.pipeline(transaction=False) as pipe:
        for key in bump:
            pipe.incr(base + key)
        for start in range(0, len(records), DELETE_BATCH):
            pipe.delete(*(base + k for k in records[start:start + DELETE_BATCH]))
        await pipe.execute()


async def org_hit_counts(app: web.Application, org_id: uuid.UUID) -> tuple[int, int]:
    """(hits, misses) of one organisation's cached reads: every worker's last published
    counts (with Redis), or this worker's."""
    own = app[CACHE].org_counts().get(str(org_id), [0, 0])
    client = app.get(REDIS)
    if client is None:
        return own[0], own[1]
    settings = app[SETTINGS]
    try:
        raw = await client.hgetall(settings.key_prefix + STATS_KEY)
    except (RedisError, OSError):
        return own[0], own[1]
    hits = misses = 0
    for name, value in raw.items():
        if (name.decode() if isinstance(name, bytes) else name) == settings.worker:
            continue  # this worker's own counts are fresher than what it published
        counts = json.loads(value).get("orgs", {}).get(str(org_id), [0, 0])
        hits, misses = hits + int(counts[0]), misses + int(counts[1])
    return hits + own[0], misses + own[1]
