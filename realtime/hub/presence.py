"""Who is looking at a project, across workers, broadcast at most once per room per second.

Entries live in a store shared by every worker (Redis; a dict when there is one worker),
keyed by worker and socket. Each worker beats a heartbeat; the entries of a worker that
stops beating are reaped by the others, so a dead worker leaves no ghost users behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from db.cancellation import stop_if_cancelled

log = logging.getLogger("formula_pm.realtime.presence")

User = dict[str, Any]
Send = Callable[[str, list[User]], Awaitable[None]]


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class PresenceStore(Protocol):
    async def record(self, project: str, ttl: float, *, add: tuple[str, User] | None = None,
                     remove: str | None = None) -> bool: ...
    async def users(self, project: str) -> list[User]: ...
    async def mark_dirty(self, project: str) -> None: ...
    async def take_dirty(self, project: str) -> bool: ...
    async def acquire_gate(self, project: str, ttl: float) -> bool: ...
    async def extend_gate(self, project: str, ttl: float) -> None: ...
    async def release_gate(self, project: str) -> None: ...
    async def heartbeat(self) -> None: ...
    async def reap(self) -> list[str]: ...
    async def claim_socket(self, user: str, member: str, cap: int) -> bool: ...
    async def release_socket(self, user: str, member: str) -> None: ...


def unique_users(entries: list[User]) -> list[User]:
    """One entry per user (a user may have several sockets), in a stable order."""
    by_id = {u["id"]: u for u in entries}
    return sorted(by_id.values(), key=lambda u: (u.get("first_name") or "",
                                                  u.get("last_name") or "", u["id"]))


class MemoryPresenceStore:
    """The single-worker store."""

    def __init__(self) -> None:
        self.rooms: dict[str, dict[str, User]] = {}
        self.dirty: set[str] = set()
        self.gates: dict[str, float] = {}
        self.sockets: dict[str, set[str]] = {}

    async def record(self, project: str, ttl: float, *, add: tuple[str, User] | None = None,
                     remove: str | None = None) -> bool:
        if add is not None:
            self.rooms.setdefault(project, {})[add[0]] = add[1]
        if remove is not None:
            room = self.rooms.get(project, {})
            room.pop(remove, None)
            if not room:
                self.rooms.pop(project, None)
        await self.mark_dirty(project)
        return await self.acquire_gate(project, ttl)

    async def users(self, project: str) -> list[User]:
        return unique_users(list(self.rooms.get(project, {}).values()))

    async def mark_dirty(self, project: str) -> None:
        self.dirty.add(project)

    async def take_dirty(self, project: str) -> bool:
        was = project in self.dirty
        self.dirty.discard(project)
        return was

    async def acquire_gate(self, project: str, ttl: float) -> bool:
        if self.gates.get(project, 0.0) > time.monotonic():
            return False
        self.gates[project] = time.monotonic() + ttl
        return True

    async def extend_gate(self, project: str, ttl: float) -> None:
        self.gates[project] = time.monotonic() + ttl

    async def release_gate(self, project: str) -> None:
        self.gates.pop(project, None)

    async def heartbeat(self) -> None:
        return None

    async def reap(self) -> list[str]:
        return []

    async def claim_socket(self, user: str, member: str, cap: int) -> bool:
        """Take one of the user's `cap` socket slots; False when all are taken."""
        held = self.sockets.setdefault(user, set())
        if member not in held and len(held) >= cap:
            return False
        held.add(member)
        return True

    async def release_socket(self, user: str, member: str) -> None:
        held = self.sockets.get(user, set())
        held.discard(member)
        if not held:
            self.sockets.pop(user, None)


class RedisPresenceStore:
    """Entries in Redis hashes; worker liveness in a sorted set of heartbeats."""

    def __init__(self, client: aioredis.Redis, prefix: str, worker: str,
                 dead_after: float = 10.0) -> None:
        self.r = client
        self.p = f"{prefix}presence:"
        self.worker = worker
        self.dead_after = dead_after

    def _room(self, project: str) -> str:
        return f"{self.p}room:{project}"

    async def record(self, project: str, ttl: float, *, add: tuple[str, User] | None = None,
                     remove: str | None = None) -> bool:
        """A join (`add`) or leave (`remove`), the room marked dirty and an attempt at its
        broadcast gate, in one round trip; True when this worker took the gate."""
        async with self.r.pipeline(transaction=False) as pipe:
            if add is not None:
                pipe.hset(self._room(project), f"{self.worker}|{add[0]}", json.dumps(add[1]))
                pipe.sadd(f"{self.p}rooms:{self.worker}", project)
            if remove is not None:
                pipe.hdel(self._room(project), f"{self.worker}|{remove}")
            pipe.set(f"{self.p}dirty:{project}", 1, ex=60)
            pipe.set(self._gate(project), self.worker, nx=True, px=int(ttl * 1000))
            results = await pipe.execute()
        return bool(results[-1])

    def _gate(self, project: str) -> str:
        return f"{self.p}gate:{project}"

    async def _dead(self) -> set[str]:
        """Workers whose last heartbeat is older than `dead_after`."""
        until = time.time() - self.dead_after
        workers: Any = await self.r.zrangebyscore(f"{self.p}workers", "-inf", until)
        return {text(w) for w in workers} - {self.worker}

    async def users(self, project: str) -> list[User]:
        entries = await self.r.hgetall(self._room(project))
        dead = await self._dead()
        ghosts = [k for k in entries if text(k).split("|", 1)[0] in dead]
        if ghosts:
            await self.r.hdel(self._room(project), *ghosts)
        return unique_users([json.loads(v) for k, v in entries.items() if k not in ghosts])

    async def mark_dirty(self, project: str) -> None:
        await self.r.set(f"{self.p}dirty:{project}", 1, ex=60)

    async def take_dirty(self, project: str) -> bool:
        return await self.r.getdel(f"{self.p}dirty:{project}") is not None

    async def acquire_gate(self, project: str, ttl: float) -> bool:
        return bool(await self.r.set(self._gate(project), self.worker, nx=True,
                                     px=int(ttl * 1000)))

    async def extend_gate(self, project: str, ttl: float) -> None:
        await self.r.set(self._gate(project), self.worker, px=int(ttl * 1000))

    async def release_gate(self, project: str) -> None:
        await self.r.delete(self._gate(project))

    async def heartbeat(self) -> None:
        await self.r.zadd(f"{self.p}workers", {self.worker: time.time()})

    def _sockets(self, user: str) -> str:
        return f"{self.p}sockets:{user}"

    async def claim_socket(self, user: str, member: str, cap: int) -> bool:
        """Take one of the user's `cap` socket slots across every worker; False when all
        are taken. Slots of workers that stopped beating are given back first. Two
        connects racing for the last slot may both be refused: never more than `cap`."""
        key, mine = self._sockets(user), f"{self.worker}|{member}"
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.sadd(key, mine)
            pipe.scard(key)
            _, held = await pipe.execute()
        if held <= cap:
            return True
        dead = await self._dead()
        stale = [m for m in await self.r.smembers(key) if text(m).split("|", 1)[0] in dead]
        if stale:
            await self.r.srem(key, *stale)
            if await self.r.scard(key) <= cap:
                return True
        await self.r.srem(key, mine)
        return False

    async def release_socket(self, user: str, member: str) -> None:
        await self.r.srem(self._sockets(user), f"{self.worker}|{member}")

    async def reap(self) -> list[str]:
        """Drop the entries of workers that stopped beating; the rooms that changed."""
        touched: list[str] = []
        for worker in await self._dead():
            rooms = await self.r.smembers(f"{self.p}rooms:{worker}")
            for room in (text(r) for r in rooms):
                fields = [k for k in await self.r.hkeys(self._room(room))
                          if text(k).startswith(f"{worker}|")]
                if fields:
                    await self.r.hdel(self._room(room), *fields)
                    touched.append(room)
            await self.r.delete(f"{self.p}rooms:{worker}")
            await self.r.zrem(f"{self.p}workers", worker)
        return touched


class Presence:
    """Joins and leaves, with the broadcast coalesced to one per room per `interval`
    across all workers (a shared gate: whoever takes it broadcasts, others mark dirty)."""

    def __init__(self, store: PresenceStore, send: Send, interval: float = 1.0) -> None:
        self.store = store
        self.send = send
        self.interval = interval
        self._tasks: set[asyncio.Task[None]] = set()

    async def join(self, project: str, member: str, user: User) -> None:
        await self._record(project, add=(member, user))

    async def leave(self, project: str, member: str) -> None:
        await self._record(project, remove=member)

    async def changed(self, project: str) -> None:
        await self._record(project)

    async def _record(self, project: str, *, add: tuple[str, User] | None = None,
                      remove: str | None = None) -> None:
        """Store the change and mark the room dirty; whoever takes the room's gate
        broadcasts (one round trip to a shared store)."""
        try:
            if await self.store.record(project, self.interval * 3, add=add, remove=remove):
                task = asyncio.create_task(self._flush(project))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except (RedisError, OSError) as exc:
            log.warning("presence unavailable: %s", exc)

    async def _flush(self, project: str) -> None:
        try:
            while True:
                if await self.store.take_dirty(project):
                    await self.send(project, await self.store.users(project))
                    await asyncio.sleep(self.interval)
                    await self.store.extend_gate(project, self.interval * 3)
                    continue
                await self.store.release_gate(project)
                # A change marked dirty after our last look but before the release found
                # the gate taken: put the mark back and flush it, unless another has begun.
                if not await self.store.take_dirty(project):
                    return
                await self.store.mark_dirty(project)
                if not await self.store.acquire_gate(project, self.interval * 3):
                    return
        except (RedisError, OSError) as exc:
            log.warning("presence broadcast failed: %s", exc)

    async def maintain(self) -> None:
        """Forever: beat the heartbeat, reap dead workers' entries, announce the change
        (until cancelled, even through a Redis timeout: `db.cancellation`)."""
        while True:
            stop_if_cancelled()
            try:
                await self.store.heartbeat()
                for project in await self.store.reap():
                    await self.changed(project)
            except (RedisError, OSError) as exc:
                log.warning("presence maintenance failed: %s", exc)
            await asyncio.sleep(self.interval * 2)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

