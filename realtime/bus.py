"""python-socketio client managers plus one thing: internal messages to every worker.

Rooms live per process, so "evict this user from that project" or "drop the sockets of
these sessions" must reach every worker: they travel on the manager's own channel as a
message method the stock managers ignore, and are handled by the hub of each worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import socketio

from realtime.fast_emit import FastAsyncManager, FastAsyncRedisManager

log = logging.getLogger("formula_pm.realtime.bus")

INTERNAL = "fpm.internal"
RESYNC_REQUIRED = "resync_required"
RESYNC_DELAY = 0.5
Handler = Callable[[dict[str, Any]], Awaitable[None]]


async def _ignore(payload: dict[str, Any]) -> None:
    return None


class LocalManager(FastAsyncManager):
    """One worker: internal messages are handled in place."""

    def __init__(self) -> None:
        super().__init__()
        self.handler: Handler = _ignore

    async def broadcast(self, payload: dict[str, Any]) -> None:
        await _deliver(self.handler, payload)


class RedisManager(FastAsyncRedisManager):
    """Several workers: the Redis manager on a per-deployment channel."""

    def __init__(self, url: str, channel: str) -> None:
        super().__init__(url, channel=channel)
        self.handler: Handler = _ignore
        self.connects = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def _redis_connect(self) -> None:
        super()._redis_connect()
        self.connects += 1
        if self.connects > 1:
            # Whatever was published while Redis was away is gone (the manager retries a
            # publish once, then drops it): tell this worker's sockets to resync.
            task = asyncio.get_running_loop().create_task(self._tell_resync())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _tell_resync(self) -> None:
        await asyncio.sleep(RESYNC_DELAY)  # let the new subscription settle first
        await socketio.AsyncManager.emit(self, RESYNC_REQUIRED, {"reason": "bus_reconnected"},
                                         namespace="/")

    async def broadcast(self, payload: dict[str, Any]) -> None:
        """Handle here, then publish to the other workers (as the manager does emits)."""
        await _deliver(self.handler, payload)
        await self._publish({"method": INTERNAL, "payload": payload, "host_id": self.host_id})

    async def _listen(self) -> AsyncIterator[Any]:
        async for message in super()._listen():
            try:
                data = self.json.loads(message)
            except (TypeError, ValueError):
                continue
            if isinstance(data, dict) and data.get("method") == INTERNAL:
                if data.get("host_id") != self.host_id:
                    await _deliver(self.handler, data.get("payload") or {})
                continue
            yield data

    async def close(self) -> None:
        thread = getattr(self, "thread", None)
        if thread is not None:
            thread.cancel()
        if self.redis is not None:
            await self.redis.aclose()


async def _deliver(handler: Handler, payload: dict[str, Any]) -> None:
    try:
        await handler(payload)
    except Exception:  # one bad message must not stop the listener
        log.exception("internal message %r failed", payload.get("kind"))
