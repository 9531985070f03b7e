"""A small JSON cache with a Redis backend and an in-memory twin behind one interface.

Redis failures never reach a request: they count as misses, are logged at most once per
interval, and the backend reports itself degraded until Redis answers again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from db.cancellation import stop_if_cancelled
from db.committed import Change
from db.json_values import json_default
from db.pool import dumps
from server.cache.keys import plan_all

log = logging.getLogger("formula_pm.cache")


class Cache(Protocol):
    prefix: str

    async def get(self, key: str) -> Any | None: ...
    async def set(self, key: str, value: Any, ttl: int) -> None: ...
    async def delete(self, *keys: str) -> None: ...
    async def incr(self, key: str) -> int: ...
    async def generations(self, keys: Iterable[str]) -> list[int]: ...
    async def fill(self, key: str, value: Any, ttl: int) -> None: ...
    async def retire(self, keys: Iterable[str], ttl: int, bump: Iterable[str] = ()) -> None: ...
    async def prefetch(self, keys: Sequence[str]) -> list[bytes | None] | None: ...
    def tally(self, hit: bool, org: Any = None) -> None: ...
    def stats(self) -> dict[str, Any]: ...
    def org_counts(self) -> dict[str, list[int]]: ...


# An invalidated record is replaced by a short-lived tombstone rather than deleted: a reader
# that loaded the old row before the change cannot put it back (fills are SET NX).
TOMBSTONE = "\u2020invalidated"
TOMBSTONE_JSON = json.dumps(TOMBSTONE)
TOMBSTONE_BYTES = TOMBSTONE_JSON.encode()
TOMBSTONE_TTL = 5


MAX_TALLIED_ORGS = 10_000


class _Stats:
    def __init__(self) -> None:
        self.hits = self.misses = self.errors = 0
        # Per organisation [hits, misses] of the reads that know their reader (an org
        # admin's GET /api/v1/admin/stats shows its own).
        self.orgs: dict[str, list[int]] = {}

    def tally(self, hit: bool, org: Any = None) -> None:
        if hit:
            self.hits += 1
        else:
            self.misses += 1
        if org is not None:
            counts = self.orgs.get(str(org))
            if counts is None:
                if len(self.orgs) >= MAX_TALLIED_ORGS:
                    return
                counts = self.orgs[str(org)] = [0, 0]
            counts[0 if hit else 1] += 1

    def as_dict(self, backend: str, status: str) -> dict[str, Any]:
        total = self.hits + self.misses
        return {
            "status": status, "backend": backend, "hits": self.hits, "misses": self.misses,
            "errors": self.errors, "hit_rate": round(self.hits / total, 4) if total else 0.0,
        }


class MemoryCache:
    """Single-worker cache used when no REDIS_URL is set."""

    def __init__(self, prefix: str, max_items: int = 50_000) -> None:
        self.prefix = prefix
        self._items: dict[str, tuple[float, Any]] = {}
        self._max = max_items
        self._stats = _Stats()

    async def get(self, key: str) -> Any | None:
        item = self._items.get(self.prefix + key)
        if item is None or item[0] < time.monotonic() or item[1] == TOMBSTONE:
            self._stats.misses += 1
            return None
        self._stats.hits += 1
        return item[1]

    async def set(self, key: str, value: Any, ttl: int) -> None:
        if len(self._items) >= self._max:
            self._evict()
        # Round-trip through JSON so callers get the same shapes as from Redis.
        self._items[self.prefix + key] = (time.monotonic() + ttl,
                                          json.loads(json.dumps(value, default=json_default)))

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._items.pop(self.prefix + key, None)

    async def incr(self, key: str) -> int:
        current = await self.get(key)
        value = int(current or 0) + 1
        await self.set(key, value, 7 * 24 * 3600)
        return value

    async def generations(self, keys: Iterable[str]) -> list[int]:
        return [int(self._peek(k) or 0) for k in keys]

    async def fill(self, key: str, value: Any, ttl: int) -> None:
        if self._peek(key) is None:
            await self.set(key, value, ttl)

    async def retire(self, keys: Iterable[str], ttl: int, bump: Iterable[str] = ()) -> None:
        for key in keys:
            await self.set(key, TOMBSTONE, ttl)
        for key in bump:
            await self.incr(key)

    async def prefetch(self, keys: Sequence[str]) -> list[bytes | None] | None:
        values = [self._peek(k) for k in keys]
        return [None if v is None or v == TOMBSTONE else dumps(v).encode() for v in values]

    def tally(self, hit: bool, org: Any = None) -> None:
        self._stats.tally(hit, org)

    def org_counts(self) -> dict[str, list[int]]:
        return self._stats.orgs

    def _peek(self, key: str) -> Any | None:
        item = self._items.get(self.prefix + key)
        return None if item is None or item[0] < time.monotonic() else item[1]

    def stats(self) -> dict[str, Any]:
        return self._stats.as_dict("memory", "healthy")

    def _evict(self) -> None:
        now = time.monotonic()
        for k in [k for k, (exp, _) in self._items.items() if exp < now]:
            del self._items[k]
        while len(self._items) >= self._max:
            self._items.pop(next(iter(self._items)))


class NullCache:
    """CACHE_ENABLED=false: stores nothing, so every read goes to PostgreSQL."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._stats = _Stats()

    async def get(self, key: str) -> Any | None:
        self._stats.misses += 1
        return None

    async def set(self, key: str, value: Any, ttl: int) -> None:
        return None

    async def delete(self, *keys: str) -> None:
        return None

    async def incr(self, key: str) -> int:
        return 0

    async def generations(self, keys: Iterable[str]) -> list[int]:
        return [-1 for _ in keys]  # unknown: callers compute lists afresh

    async def fill(self, key: str, value: Any, ttl: int) -> None:
        return None

    async def retire(self, keys: Iterable[str], ttl: int, bump: Iterable[str] = ()) -> None:
        return None

    async def prefetch(self, keys: Sequence[str]) -> list[bytes | None] | None:
        return None  # "unavailable": callers take their ordinary (uncached) path

    def tally(self, hit: bool, org: Any = None) -> None:
        self._stats.tally(hit, org)

    def org_counts(self) -> dict[str, list[int]]:
        return self._stats.orgs

    def stats(self) -> dict[str, Any]:
        return self._stats.as_dict("none", "healthy")


class RedisCache:
    """Redis-backed cache; every error is absorbed and counted.

    Keys live under an epoch (`<prefix>e<N>:`). When Redis comes back after an outage the
    epoch is bumped, so nothing cached before the outage (whose invalidations may have been
    lost) is ever served; other workers pick the new epoch up within a second.
    """

    def __init__(self, client: aioredis.Redis, prefix: str, log_interval: float = 30.0) -> None:
        self.base = prefix
        self.client = client
        self._stats = _Stats()
        self._log_interval = log_interval
        self._last_log = 0.0
        self.healthy = True
        self.epoch = 0
        self.prefix = f"{prefix}e0:"
        self.recovered = False

    async def probe(self) -> bool:
        """Ping Redis now and update the health flag (used by /health/ready)."""
        try:
            await self.client.ping()
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return False
        self._ok()
        return True

    async def refresh_epoch(self, *, bump: bool = False) -> None:
        """Read (or, after an outage, advance) the epoch shared by every worker."""
        key = self.base + "epoch"
        try:
            value = await (self.client.incr(key) if bump else self.client.get(key))
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return
        epoch = int(value or 0)
        if epoch != self.epoch:
            self.epoch = epoch
            self.prefix = f"{self.base}e{epoch}:"

    def _failed(self, exc: Exception) -> None:
        self._stats.errors += 1
        self.healthy = False
        now = time.monotonic()
        if now - self._last_log >= self._log_interval:
            self._last_log = now
            log.warning("redis unavailable, serving from PostgreSQL: %s (%d errors so far)",
                        exc, self._stats.errors)

    def _ok(self) -> None:
        if not self.healthy:
            log.info("redis is back; retiring what was cached before the outage")
            self.healthy = True
            self.recovered = True

    async def get(self, key: str) -> Any | None:
        try:
            raw = await self.client.get(self.prefix + key)
        except (RedisError, OSError) as exc:
            self._failed(exc)
            self._stats.misses += 1
            return None
        self._ok()
        if raw is None or raw == TOMBSTONE_BYTES:
            self._stats.misses += 1
            return None
        self._stats.hits += 1
        return json.loads(raw)

    async def set(self, key: str, value: Any, ttl: int) -> None:
        try:
            await self.client.set(self.prefix + key, dumps(value), ex=ttl)
            self._ok()
        except (RedisError, OSError) as exc:
            self._failed(exc)

    async def delete(self, *keys: str) -> None:
        if not keys:
            return
        try:
            await self.client.delete(*(self.prefix + k for k in keys))
            self._ok()
        except (RedisError, OSError) as exc:
            self._failed(exc)

    async def incr(self, key: str) -> int:
        try:
            value = int(await self.client.incr(self.prefix + key))
            self._ok()
            return value
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return 0

    async def fill(self, key: str, value: Any, ttl: int) -> None:
        """Store unless the key exists (a tombstone left by a concurrent invalidation)."""
        try:
            await self.client.set(self.prefix + key, dumps(value), ex=ttl, nx=True)
            self._ok()
        except (RedisError, OSError) as exc:
            self._failed(exc)

    def retire_commands(self, keys: Iterable[str], ttl: int, bump: Iterable[str] = ()
                        ) -> list[tuple[str | int, ...]]:
        """The Redis commands of `retire`, for a pipeline to the same server (the leader's
        publish: `server.live`)."""
        return [*(("SET", self.prefix + k, TOMBSTONE_JSON, "EX", ttl) for k in keys),
                *(("INCRBY", self.prefix + k, 1) for k in bump)]

    async def retire(self, keys: Iterable[str], ttl: int, bump: Iterable[str] = ()) -> None:
        """Tombstone `keys` and increment the generations in `bump`: one round trip."""
        commands = self.retire_commands(keys, ttl, bump)
        if not commands:
            return
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                await pipe.execute()
            self._ok()
        except (RedisError, OSError) as exc:
            self._failed(exc)

    async def generations(self, keys: Iterable[str]) -> list[int]:
        names = [self.prefix + k for k in keys]
        if not names:
            return []
        try:
            raws = await self.client.mget(names)
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return [-1] * len(names)  # unknown: callers must not use cached lists
        self._ok()
        return [int(r or 0) for r in raws]

    async def prefetch(self, keys: Sequence[str]) -> list[bytes | None] | None:
        """The raw values of `keys` in one MGET (tombstones read as None); None if Redis
        failed. Counts nothing: callers `tally` what they use."""
        try:
            raws = await self.client.mget([self.prefix + k for k in keys])
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return None
        self._ok()
        values = cast(list[bytes | None], raws)  # no decode_responses: values are bytes
        return [None if r is None or r == TOMBSTONE_BYTES else r for r in values]

    def tally(self, hit: bool, org: Any = None) -> None:
        self._stats.tally(hit, org)

    def org_counts(self) -> dict[str, list[int]]:
        return self._stats.orgs

    def stats(self) -> dict[str, Any]:
        return {**self._stats.as_dict("redis", "healthy" if self.healthy else "degraded"),
                "epoch": self.epoch}


async def invalidate(cache: Cache, changes: Iterable[Change]) -> None:
    """Delete the records and bump the generations that `changes` touched.

    A writer's request calls it with what its transaction committed (`server/writes.py`);
    the change leader plans the same from what the audit stream says changed and sends it
    with its publish (`server.live.invalidation`). Nothing to do costs no round trip."""
    todo = plan_all(changes)
    await cache.retire(sorted(todo.delete), TOMBSTONE_TTL, bump=sorted(todo.bump))


async def keep_epoch(cache: RedisCache, interval: float = 1.0) -> None:
    """Background task: notice Redis coming back, bump the epoch, follow other workers'."""
    import asyncio

    while True:
        stop_if_cancelled()
        await asyncio.sleep(interval)
        if not cache.healthy and not await cache.probe():
            continue
        await cache.refresh_epoch(bump=cache.recovered)
        cache.recovered = False
