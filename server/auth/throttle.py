"""Counting failures per key in a window: Redis when it answers, process memory otherwise."""

from __future__ import annotations

import logging
import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger("formula_pm.throttle")


class Throttle:
    """`limit` failures per `window` seconds; then blocked until the window ends.

    Only failures count: a success never increments, and `reset` clears the account's count.
    """

    def __init__(self, name: str, limit: int, window: int, prefix: str,
                 client: aioredis.Redis | None = None) -> None:
        self.name = name
        self.limit = limit
        self.window = window
        self.prefix = f"{prefix}throttle:{name}:"
        self.client = client
        self._memory: dict[str, tuple[int, float]] = {}

    async def retry_after(self, key: str) -> int:
        """Seconds until `key` may try again; 0 when not blocked."""
        count, ttl = await self._read(key)
        return max(1, int(ttl)) if count >= self.limit else 0

    async def fail(self, key: str) -> None:
        if self.client is not None:
            try:
                name = self.prefix + key
                async with self.client.pipeline(transaction=True) as pipe:
                    pipe.incr(name)
                    pipe.expire(name, self.window, nx=True)
                    await pipe.execute()
                return
            except (RedisError, OSError) as exc:
                log.warning("throttle falls back to memory: %s", exc)
        count, expires = self._memory_entry(key)
        self._memory[key] = (count + 1, expires)

    async def reset(self, key: str) -> None:
        self._memory.pop(key, None)
        if self.client is not None:
            try:
                await self.client.delete(self.prefix + key)
            except (RedisError, OSError):
                pass

    async def _read(self, key: str) -> tuple[int, float]:
        if self.client is not None:
            try:
                name = self.prefix + key
                async with self.client.pipeline(transaction=False) as pipe:
                    pipe.get(name)
                    pipe.ttl(name)
                    raw, ttl = await pipe.execute()
                redis_count = int(raw or 0)
                count, expires = self._memory_entry(key)
                return max(redis_count, count), max(float(ttl), expires - time.monotonic())
            except (RedisError, OSError):
                pass
        count, expires = self._memory_entry(key)
        return count, expires - time.monotonic()

    def _memory_entry(self, key: str) -> tuple[int, float]:
        now = time.monotonic()
        count, expires = self._memory.get(key, (0, now + self.window))
        if expires <= now:
            count, expires = 0, now + self.window
        if len(self._memory) > 100_000:
            self._memory = {k: v for k, v in self._memory.items() if v[1] > now}
        return count, expires
