"""A bound on the bytes waiting for one socket: a client that stops reading is dropped.

What waits for a socket sits in two places: its transport's write buffer (frames written,
by the fast path or by Engine.IO's writer, that the kernel has not taken) and Engine.IO's
per-socket queue (packets its writer task has not taken yet, because it is blocked waiting
for the transport to drain). The stock queue is an unbounded ``asyncio.Queue``, so a client
that stops reading grows the server's memory by every event of its rooms.

Here each socket's queue is a ``MeteredQueue`` that counts the bytes of the packets it holds
and knows the socket's transport once the websocket is up. A packet that would take the
total over ``Backlog.limit`` is not queued: the socket is dropped instead (its queue cleared,
its transport aborted, its Engine.IO socket closed, so the Socket.IO disconnect handlers run
and presence and the client list are cleaned up). The client reconnects and ``resync``s from
its cursor, as after any disconnect, so nothing committed is lost to it. ``Backlog.sweep``
also looks every second for sockets already over the bound with nothing new arriving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

log = logging.getLogger("formula_pm.realtime.backlog")

DEFAULT_LIMIT = 4 * 1024 * 1024
SWEEP_INTERVAL = 1.0
PACKET_OVERHEAD = 16  # bytes a packet costs beyond its payload (type, frame header)


def packet_bytes(pkt: Any) -> int:
    """The bytes an Engine.IO packet puts on the wire, near enough (payload + overhead)."""
    data = getattr(pkt, "data", None)
    if isinstance(data, str | bytes):
        return len(data) + PACKET_OVERHEAD
    return PACKET_OVERHEAD if pkt is not None else 0


class MeteredQueue(asyncio.Queue[Any]):
    """Engine.IO's send queue of one socket, counting the bytes of the packets it holds."""

    def __init__(self, backlog: Backlog) -> None:
        super().__init__()
        self.backlog = backlog
        self.bytes = 0
        self.transport: asyncio.BaseTransport | None = None  # once the websocket is up
        self.dropped = False

    def _put(self, item: Any) -> None:
        self.bytes += packet_bytes(item)
        super()._put(item)

    def _get(self) -> Any:
        item = super()._get()
        self.bytes -= packet_bytes(item)
        return item

    def waiting(self) -> int:
        """Bytes queued here plus bytes buffered in the transport."""
        transport = self.transport
        buffered = 0
        if transport is not None and not transport.is_closing():
            buffered = transport.get_write_buffer_size()  # type: ignore[attr-defined]
        return self.bytes + buffered

    def put_nowait(self, item: Any) -> None:
        if item is not None:  # None is the writer's stop signal: always let it through
            if self.dropped:
                return  # the socket is being closed: nothing more is kept for it
            if self.waiting() + packet_bytes(item) > self.backlog.limit:
                self.backlog.drop(self)
                return
        super().put_nowait(item)

    def clear(self) -> None:
        """Forget every queued packet (marked done, so a ``join`` does not hang)."""
        while not self.empty():
            self.get_nowait()
            self.task_done()


class Backlog:
    """The bound, the queues of one Engine.IO server, and the count of sockets dropped."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self.dropped = 0
        self.eio: Any = None

    def install(self, eio: Any) -> None:
        """Give every socket of this Engine.IO server a metered queue (this server only)."""
        self.eio = eio
        eio.create_queue = self.new_queue

    def new_queue(self, *args: Any, **kwargs: Any) -> MeteredQueue:
        return MeteredQueue(self)

    def over(self, queue: Any) -> bool:
        return isinstance(queue, MeteredQueue) and not queue.dropped and (
            queue.waiting() > self.limit)

    def drop(self, queue: MeteredQueue) -> None:
        """Close the socket of ``queue``: a client this far behind is not reading."""
        if queue.dropped:
            return
        queue.dropped = True
        self.dropped += 1
        queue.clear()
        if queue.transport is not None:
            queue.transport.abort()  # type: ignore[attr-defined]
        socket = self._socket_of(queue)
        log.warning("socket %s dropped: over %d bytes waiting (a client not reading)",
                    getattr(socket, "sid", "?"), self.limit)
        if socket is not None:
            task = asyncio.ensure_future(socket.close(
                wait=False, abort=True, reason=self.eio.reason.TRANSPORT_ERROR))
            task.add_done_callback(_log_failure)

    def _socket_of(self, queue: MeteredQueue) -> Any:
        if self.eio is None:
            return None
        return next((s for s in self.eio.sockets.values() if s.queue is queue), None)

    def sweep_once(self) -> int:
        """Drop every socket already over the bound; how many were dropped."""
        if self.eio is None:
            return 0
        stuck = [s.queue for s in list(self.eio.sockets.values()) if self.over(s.queue)]
        for queue in stuck:
            self.drop(queue)
        return len(stuck)

    async def sweep(self, interval: float = SWEEP_INTERVAL) -> None:
        """Forever: drop sockets whose writer is stuck above the bound."""
        while True:
            await asyncio.sleep(interval)
            self.sweep_once()


def _log_failure(task: asyncio.Future[Any]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        exc = task.exception()
        if exc is not None:
            log.warning("closing a dropped socket failed: %r", exc)
