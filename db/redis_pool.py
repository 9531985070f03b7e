"""Redis clients of one worker (cache, hub, Socket.IO bus) on bounded, waiting pools."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis


def bounded_client(url: str, max_connections: int, wait: float, **options: Any) -> aioredis.Redis:
    """A Redis client whose pool holds at most ``max_connections`` connections.

    redis-py's default pool opens up to 100 connections and keeps every one it ever opened
    (then fails outright); this one makes a caller wait up to ``wait`` seconds for a free
    connection, after which it gets a ``RedisError`` like any other outage.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=wait, **options)
    return aioredis.Redis.from_pool(pool)
