"""The Redis client of the cache holds a bounded pool: callers beyond it wait, never fail."""

from __future__ import annotations

import asyncio
import uuid

from db.redis_pool import bounded_client
from tests.waiting import eventually


async def test_bounded_client_queues_callers_and_opens_at_most_its_bound(redis_url: str) -> None:
    name = f"fpm-pool-{uuid.uuid4().hex[:8]}"
    client = bounded_client(redis_url, 3, 10, client_name=name)
    watcher = bounded_client(redis_url, 1, 10)
    try:
        # 20 callers that each hold a connection for a moment (BLPOP on an empty key).
        answers = await asyncio.gather(*(client.blpop([f"{name}:none"], timeout=0.1)
                                         for _ in range(20)))
        assert answers == [None] * 20
        listed = await watcher.client_list()
        assert sum(1 for c in listed if c.get("name") == name) == 3
    finally:
        await client.aclose()
        await watcher.aclose()
    # The pool is closed with its client: none of its connections is left on the server.
    watcher = bounded_client(redis_url, 1, 10)
    try:
        async def gone() -> bool:
            return not any(c.get("name") == name for c in await watcher.client_list())

        await eventually(gone, limit=2.5, interval=0.05)
    finally:
        await watcher.aclose()
