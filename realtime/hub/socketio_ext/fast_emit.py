"""Room broadcasts that encode a Socket.IO event once and write one websocket frame to each socket.

python-socketio's manager already encodes a no-callback event once, but then hands every
recipient to Engine.IO separately: a task per recipient, a ping check and a log call per
recipient, a queue put, a wake-up of that socket's writer task (whose ``poll`` wraps each
``queue.get`` in ``asyncio.wait_for``), a per-recipient re-encode of the Engine.IO packet
and an aiohttp frame build. Here the server-to-client websocket frame (unmasked, so the same
bytes for everybody) is built once per event and written straight to each socket's
transport.

Ordering. Every packet of a socket reaches the wire in the order in which it was handed
over, whichever path took it, because the direct write is used only when the socket's
Engine.IO writer is provably idle: its queue is empty and the writer is the one waiter
blocked in ``queue.get``. The writer asks the queue for more only after it has written
everything it took before, so at that instant every packet queued earlier (acks, pings,
connect replies, stock emits) is already in the transport, and the direct write lands
after them; anything queued later lands after the direct write. In every other state
(packets queued, writer busy or draining a slow client, upgrade from polling under way,
socket closing, pong overdue, over 1 MiB already buffered for it) that socket gets
the stock path at once, in place, so it keeps its turn too.

Bounded. Every socket's Engine.IO queue is a ``realtime.hub.backlog.MeteredQueue``: the bytes
waiting for a socket (transport buffer + queue) are bounded by ``Backlog.limit``, and a
socket over it is dropped (a client that stopped reading). The fast path writes only below
``high_water`` (at most half the bound), and the stock path meets the bound in the queue.

Anything unusual is left to the stock manager whole: callbacks, binary payloads,
namespaces other than "/", servers not on aiohttp, library versions other than the pinned
ones. Compressed websockets (permessage-deflate) always take the stock path; compression
is not offered unless ``websocket_compression=True`` (Socket.IO's own Node server has it
off by default too: it costs a zlib context per socket and a compression per recipient).

Batches. ``emit_many`` takes the events of one leader drain; the Redis variant publishes
them to the other workers in one pipeline rather than one awaited round trip per event, and
then delivers them here in order. A ``Prelude`` (the leader's cache invalidation) runs
before any of them is published or delivered: its Redis commands head the same pipeline
(one round trip for both), and when they cannot run there (no Redis for the bus, or the
publish failed) its ``alone`` does the work another way first.
"""

from __future__ import annotations

import functools
import logging
import struct
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, NamedTuple

import socketio
from aiohttp import web
from engineio import packet as eio_packet
from engineio.async_drivers import aiohttp as eio_aiohttp
from redis.exceptions import RedisError
from socketio import packet as sio_packet

from realtime.hub.backlog import Backlog, MeteredQueue
from realtime.hub.socketio_ext import SUPPORTED, versions_supported

log = logging.getLogger("formula_pm.realtime.fast_emit")

# Bytes buffered in a transport above which a socket is left to Engine.IO's writer, which
# waits for the transport to drain. Below it a lagging client costs one buffer append per
# event; handing it over earlier would put every event of a briefly slow reader on the
# expensive per-socket path (the memory held is the same: transport buffer or queue).
HIGH_WATER = 1024 * 1024



def text_frame(payload: bytes) -> bytes:
    """A final, unmasked websocket text frame (RFC 6455 5.2), as a server sends it."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 65536:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


class Emission(NamedTuple):
    """One event for ``emit_many``: to namespace "/", no callback."""

    event: str
    data: Any
    room: Any = None
    skip_sid: Any = None


class Prelude(NamedTuple):
    """What must happen before a batch of events is published or delivered: Redis commands
    (to the bus's server, in the same pipeline as the PUBLISHes), or `alone()` when they
    cannot be sent with them. `alone` is expected not to raise."""

    commands: Sequence[Sequence[Any]]
    alone: Callable[[], Awaitable[None]]


class Route:
    """What the fast path needs of one websocket-connected Engine.IO socket."""

    __slots__ = ("queue", "socket", "transport", "ws")

    def __init__(self, socket: Any, ws: web.WebSocketResponse, transport: Any) -> None:
        self.socket = socket
        self.queue = socket.queue
        self.ws = ws
        self.transport = transport

    def idle(self, now: float, ping_timeout: float, high_water: int = HIGH_WATER) -> bool:
        """True when a frame written now cannot overtake anything queued for this socket."""
        sock = self.socket
        if sock.closing or sock.closed or sock.upgrading or not sock.upgraded:
            return False
        if sock.last_ping and now - sock.last_ping > ping_timeout:
            return False  # the stock send closes a socket whose pong is overdue
        queue = self.queue
        if queue._queue:
            return False
        getters = queue._getters
        if len(getters) != 1 or getters[0].done():
            return False  # the writer is busy with packets it has taken
        transport = self.transport
        if self.ws.closed or transport.is_closing():
            return False
        return bool(transport.get_write_buffer_size() <= high_water)


class DirectWebSocket(eio_aiohttp.WebSocket):
    """Engine.IO's aiohttp websocket wrapper that also records the socket's Route."""

    def __init__(self, handler: Any, server: Any, *, routes: dict[str, Route],
                 compress: bool) -> None:
        super().__init__(handler, server)
        self.routes = routes
        self.compress = compress

    async def __call__(self, environ: dict[str, Any]) -> web.WebSocketResponse:
        request: web.Request = environ["aiohttp.request"]
        self._sock = web.WebSocketResponse(
            max_msg_size=self.server.max_http_buffer_size, compress=self.compress)
        await self._sock.prepare(request)
        self.environ = environ
        socket = getattr(self.handler, "__self__", None)  # the handler is a socket method
        sid = None
        if socket is not None and isinstance(socket.queue, MeteredQueue):
            socket.queue.transport = request.transport  # the backlog counts its buffer too
        if socket is not None and not self._sock.compress and request.transport:
            sid = socket.sid
            self.routes[sid] = Route(socket, self._sock, request.transport)
        try:
            await self.handler(self)
        finally:
            if sid is not None:
                self.routes.pop(sid, None)
        return self._sock


    async def wait(self) -> Any:
        """The next frame. One that is not an Engine.IO packet ends the connection as a
        closed transport does (Engine.IO would raise out of its reader, logged with a
        traceback, on a client's garbage)."""
        data = await super().wait()
        if isinstance(data, str) and not is_engineio_text(data):
            log.info("closing a websocket that sent a frame Engine.IO cannot decode")
            raise OSError("not an Engine.IO packet")
        return data


def is_engineio_text(frame: str) -> bool:
    """Whether Engine.IO decodes this text frame (pure)."""
    try:
        eio_packet.Packet(encoded_packet=frame)
    except (ValueError, TypeError, IndexError):  # binascii.Error is a ValueError
        return False
    return True


class FastAsyncManager(socketio.AsyncManager):
    """AsyncManager whose no-callback text emits to "/" write one shared frame per event."""

    def __init__(self, websocket_compression: bool = False) -> None:
        super().__init__()
        self.websocket_compression = websocket_compression
        self.fast_enabled = False
        self.routes: dict[str, Route] = {}
        self.fast_deliveries = 0
        self.stock_deliveries = 0
        self.backlog = Backlog()

    @property
    def high_water(self) -> int:
        """Buffered bytes up to which a socket may take a direct write."""
        return min(HIGH_WATER, self.backlog.limit // 2)

    def set_server(self, server: Any) -> None:
        super().set_server(server)
        eio = server.eio
        reason = None
        if not versions_supported():
            reason = f"installed versions differ from {SUPPORTED}"
        elif eio.async_mode != "aiohttp" or (
                eio._async.get("websocket") is not eio_aiohttp.WebSocket):
            reason = "the Engine.IO server is not the stock aiohttp one"
        if reason:
            log.warning("fast emit disabled, stock emit used: %s", reason)
            return
        websocket = functools.partial(DirectWebSocket, routes=self.routes,
                                      compress=self.websocket_compression)
        eio._async = {**eio._async, "websocket": websocket}  # this server only
        self.backlog.install(eio)
        self.fast_enabled = True

    async def emit(self, event: str, data: Any, namespace: str, room: Any = None,
                   skip_sid: Any = None, callback: Any = None, to: Any = None,
                   **kwargs: Any) -> None:
        room = to or room
        text = None
        if callback is None and self.fast_enabled and namespace == "/" and "/" in self.rooms:
            text = self._encode(event, data)
        if text is None:
            await super().emit(event, data, namespace, room=room, skip_sid=skip_sid,
                               callback=callback, **kwargs)
            return
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        await self._deliver(self.get_participants(namespace, room), skip, text)

    async def emit_many(self, emissions: Sequence[Emission],
                        prelude: Prelude | None = None) -> None:
        """Emit each in turn (one process: nothing to batch), after `prelude.alone()`."""
        if prelude is not None:
            await prelude.alone()
        for one in emissions:
            await self.emit(one.event, one.data, "/", room=one.room, skip_sid=one.skip_sid)

    def _encode(self, event: str, data: Any) -> str | None:
        """The Engine.IO text of the event, or None when it needs binary attachments."""
        if isinstance(data, tuple):
            args = list(data)
        else:
            args = [] if data is None else [data]
        pkt = self.server.packet_class(sio_packet.EVENT, namespace="/", data=[event, *args])
        if pkt.packet_type != sio_packet.EVENT:
            return None
        encoded = pkt.encode()
        return "4" + encoded if isinstance(encoded, str) else None

    async def _deliver(self, participants: Iterable[tuple[str, str]], skip: list[Any],
                       text: str) -> None:
        """Write the frame to every idle socket; the others get the stock send in place."""
        frame = text_frame(text.encode())
        routes = self.routes
        now = time.time()
        ping_timeout = self.server.eio.ping_timeout
        high_water = self.high_water
        fallback = None
        fast = 0
        for sid, eio_sid in participants:
            if sid in skip:
                continue
            route = routes.get(eio_sid)
            if route is not None:
                if route.idle(now, ping_timeout, high_water):
                    route.transport.write(frame)
                    fast += 1
                    continue
                if getattr(route.queue, "dropped", False):
                    continue  # being closed as too slow: nothing more is kept for it
            if fallback is None:
                fallback = eio_packet.Packet(eio_packet.MESSAGE, text[1:])
            self.stock_deliveries += 1
            await self.server._send_eio_packet(eio_sid, fallback)
        self.fast_deliveries += fast


class FastAsyncRedisManager(socketio.AsyncRedisManager, FastAsyncManager):
    """AsyncRedisManager that delivers to its own sockets, local or from Redis, by the fast path.

    The method order puts the pub/sub manager first (publish to every worker, listen for
    their emits) and this module's emit under it, where the stock local emit would be.
    """

    connected: bool  # the stock manager's: whether its Redis client is set up

    def __init__(self, url: str = "redis://localhost:6379/0", channel: str = "socketio",
                 write_only: bool = False, logger: Any = None, json: Any = None,
                 redis_options: dict[str, Any] | None = None,
                 websocket_compression: bool = False) -> None:
        # Named explicitly: to mypy the untyped base is Any and super() looks like ours.
        socketio.AsyncRedisManager.__init__(
            self, url, channel=channel, write_only=write_only, logger=logger, json=json,
            redis_options=redis_options)
        self.websocket_compression = websocket_compression

    async def emit_many(self, emissions: Sequence[Emission],
                        prelude: Prelude | None = None) -> None:
        """Publish all of them in one round trip, headed by the prelude's commands, then
        deliver them to this worker's sockets.

        The stock emit awaits one PUBLISH per event, so a drain of k events made k round
        trips in a row before the next drain. The messages are the stock ones (any stock
        manager listening on the channel understands them), published in order in one
        pipeline; binary payloads take the stock emit, after what came before them.
        """
        commands: Sequence[Sequence[Any]] = ()
        if prelude is not None:
            if prelude.commands:
                commands = prelude.commands
            else:
                await prelude.alone()
        messages: list[dict[str, Any]] = []
        for one in emissions:
            data = list(one.data) if isinstance(one.data, tuple) else [one.data]
            if sio_packet.Packet.data_is_binary(data):
                await self._send(messages, commands, prelude)
                messages, commands = [], ()
                await self.emit(one.event, one.data, "/", room=one.room, skip_sid=one.skip_sid)
                continue
            messages.append({"method": "emit", "event": one.event, "data": data,
                             "binary": False, "namespace": "/", "room": one.room,
                             "skip_sid": one.skip_sid, "callback": None,
                             "host_id": self.host_id})
        await self._send(messages, commands, prelude)

    async def _send(self, messages: list[dict[str, Any]], commands: Sequence[Sequence[Any]],
                    prelude: Prelude | None) -> None:
        """Publish (after `commands`), then deliver here; `prelude.alone()` first if the
        commands could not go."""
        if (messages or commands) and not await self._publish_all(messages, commands) \
                and commands and prelude is not None:
            await prelude.alone()
        for message in messages:
            await self._handle_emit(message)

    async def _publish_all(self, messages: list[dict[str, Any]],
                           commands: Sequence[Sequence[Any]] = ()) -> bool:
        """Run `commands`, then PUBLISH every message, in order, in one pipeline; as the
        stock ``_publish``, reconnect and try once more if Redis fails, then give up
        (logged). Whether every one of `commands` ran."""
        texts = [self.json.dumps(m) for m in messages]
        for attempt in (1, 2):
            try:
                if not self.connected:
                    self._redis_connect()
                async with self.redis.pipeline(transaction=False) as pipe:
                    for command in commands:
                        pipe.execute_command(*command)
                    for text in texts:
                        pipe.publish(self.channel, text)
                    results = await pipe.execute(raise_on_error=False)
            except (RedisError, OSError) as exc:
                self.connected = False
                log.error("cannot publish %d events to redis%s: %s", len(texts),
                          "; retrying" if attempt == 1 else "; giving up", exc)
                continue
            # A command Redis refused does not stop the others (no transaction): the events
            # went out, so nothing is sent again.
            failed = [r for r in results if isinstance(r, Exception)]
            if failed:
                log.error("redis refused %d of %d commands of a publish: %s", len(failed),
                          len(results), failed[0])
            return not any(isinstance(r, Exception) for r in results[:len(commands)])
        return False


__all__ = ["Emission", "FastAsyncManager", "FastAsyncRedisManager", "Prelude", "text_frame",
           "versions_supported"]
