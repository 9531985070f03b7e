"""python-socketio client managers plus one thing: internal messages to every worker.

Rooms live per process, so "evict this user from that project" or "drop the sockets of
these sessions" must reach every worker: they travel on the manager's own channel as a
message method the stock managers ignore, and are handled by the hub of each worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
import socketio

from db.cancellation import stop_if_cancelled
from db.redis_pool import bounded_client
from realtime.hub.socketio_ext.fast_emit import FastAsyncManager, FastAsyncRedisManager

log = logging.getLogger("formula_pm.realtime.bus")

INTERNAL = "fpm.internal"
RESYNC_REQUIRED = "resync_required"
RETRY_MAX = 2.0  # seconds between attempts to re-subscribe while Redis is away
# Connections of one worker's bus client. redis-py's default pool fails outright beyond 100
# connections in use ("Too many connections": a publish dropped, seen in a burst of 1,000
# subscribes); this one makes a publisher wait for a free connection for up to POOL_WAIT s
# (the sizes of the hub's own client: a burst of 300 disconnects needed them in the soak).
POOL_MAX = 32
POOL_WAIT = 5.0
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
        self.resubscribes = 0
        self._closing: set[asyncio.Task[None]] = set()

    def _redis_connect(self) -> None:
        """The stock (re)connect, on a bounded pool; the client it replaces is closed."""
        old = getattr(self, "redis", None)
        self.redis = bounded_client(self.redis_url, POOL_MAX, POOL_WAIT, **self.redis_options)
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.connected = True
        if isinstance(old, aioredis.Redis):
            task = asyncio.get_running_loop().create_task(_close_quietly(old))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _redis_listen_with_retries(self) -> AsyncIterator[Any]:
        """The stock listener loop with two changes. Retries back off to RETRY_MAX seconds,
        not to a minute, so fan-out resumes soon after Redis does. And after a re-subscribe,
        before the first message of the new subscription is handled, this worker's sockets
        are told once to resync: whatever was published while Redis was away is gone (the
        manager retries a publish once, then drops it), and a client that resyncs from the
        cursor it holds at that moment gets all of it back."""
        retry = 1.0
        subscribed_once = False
        while True:
            stop_if_cancelled()  # a cancel redis-py made a timeout ends the loop too
            pubsub = None
            try:
                self._redis_connect()
                pubsub = self.pubsub
                await pubsub.subscribe(self.channel)
                if subscribed_once:
                    self.resubscribes += 1
                    await self._tell_resync()
                subscribed_once = True
                retry = 1.0
                async for message in pubsub.listen():
                    yield message
            except Exception as exc:  # any failure of Redis: retry
                log.warning("bus: cannot receive from redis; retrying in %.0fs: %s", retry, exc)
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()
                await asyncio.sleep(retry)
                retry = min(retry * 2, RETRY_MAX)

    async def _tell_resync(self) -> None:
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


async def _close_quietly(client: aioredis.Redis) -> None:
    with contextlib.suppress(Exception):
        await client.aclose()


async def _deliver(handler: Handler, payload: dict[str, Any]) -> None:
    try:
        await handler(payload)
    except Exception:  # one bad message must not stop the listener
        log.exception("internal message %r failed", payload.get("kind"))
