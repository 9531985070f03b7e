"""python-socketio's server, with what a client sends checked before the library acts on it.

python-socketio dispatches a client's EVENT packet to the server handler of the same name,
reserved names included: `42["disconnect"]` ran the hub's disconnect handler (the hub
forgot a socket that stayed in all its rooms) and `42["connect",{},{"token":T}]` its
connect handler (the socket's record replaced). The seam chosen is the Engine.IO message
handler, where the library decodes a packet and picks what to do with it: here a packet
is decoded once, and only the packets this API has are dispatched, through the library's
own methods. An event with a reserved name, or without a name, never reaches dispatch; it
is answered (when the client asked for an answer) and dropped. Doing it in the handlers
instead would leave every future handler one check away from the same hole.

The same seam closes what a client must not be able to keep open: an Engine.IO session
that has not finished the Socket.IO connect within `connect_timeout`, and one whose
namespace was disconnected (by the client or by the server: this API has one namespace).
Nothing a client sends is logged with a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import socketio
from socketio import packet

from db.json_depth import TooDeep
from realtime.hub.acks import Ack, failure, unknown_event

log = logging.getLogger("formula_pm.realtime.protocol")

NAMESPACE = "/"
# Names a client may never send as events: python-socketio's and the Socket.IO client
# libraries' own (connect and disconnect run the hub's connection handlers), and the
# catch-all "*", which would call the hub's catch-all handler with shifted arguments.
RESERVED_EVENTS = frozenset({
    *socketio.AsyncServer.reserved_events, "connect", "disconnect", "connect_error",
    "disconnecting", "newListener", "removeListener", "__disconnect_final", "*"})
# What python's json raises on text it cannot decode (RecursionError: deep nesting).
UNDECODABLE = (ValueError, TypeError, RecursionError)
NOT_AN_EVENT = "an event is a list whose first element is its name"


def event_problem(data: Any) -> Ack | None:
    """Why the payload of a client EVENT packet must not be dispatched (pure)."""
    if not isinstance(data, list) or not data or not isinstance(data[0], str):
        return failure("invalid", NOT_AN_EVENT)
    if data[0] in RESERVED_EVENTS:
        return unknown_event(data[0])
    return None


_EVENT_HEADER = re.compile(r"2(?:(/[^,\[]*),)?(\d{1,15})\[")


def event_header(encoded: str) -> tuple[str, int] | None:
    """(namespace, ack id) of an encoded Socket.IO EVENT packet that asks for an ack, read
    without decoding its payload; None for any other packet (pure)."""
    found = _EVENT_HEADER.match(encoded)
    if found is None:
        return None
    return found.group(1) or NAMESPACE, int(found.group(2))


class HubServer(socketio.AsyncServer):
    """The hub's Socket.IO server (one namespace, text packets only)."""

    def __init__(self, *, connect_timeout: float = 10.0, **options: Any) -> None:
        super().__init__(**options)
        self.connect_timeout = connect_timeout
        self.dropped_packets = 0
        self.closed_unconnected = 0
        self._deadlines: dict[str, asyncio.TimerHandle] = {}
        self._closing: set[asyncio.Task[None]] = set()

    # -- what a client sends -------------------------------------------------------------

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        if not isinstance(data, str):  # binary: attachments, and this API takes none
            return self._drop(eio_sid, "binary message")
        try:
            pkt = self.packet_class(encoded_packet=data)
        except TooDeep as exc:  # an event whose payload nests too deeply: still answered
            self._drop(eio_sid, "payload nested too deeply")
            return await self._answer_undecoded(eio_sid, data, failure("invalid", str(exc)))
        except UNDECODABLE as exc:
            return self._drop(eio_sid, f"undecodable packet: {type(exc).__name__}")
        kind = pkt.packet_type
        if kind == packet.EVENT:
            await self._dispatch_event(eio_sid, pkt)
        elif kind == packet.CONNECT:
            await self._handle_connect(eio_sid, pkt.namespace, pkt.data)
        elif kind == packet.DISCONNECT:
            await self._handle_disconnect(eio_sid, pkt.namespace, self.reason.CLIENT_DISCONNECT)
            if (pkt.namespace or NAMESPACE) == NAMESPACE:
                self._close_transport(eio_sid)
        elif kind == packet.ACK:
            await self._handle_ack(eio_sid, pkt.namespace, pkt.id, pkt.data)
        else:
            self._drop(eio_sid, f"packet type {kind!r}")

    async def _dispatch_event(self, eio_sid: str, pkt: Any) -> None:
        problem = event_problem(pkt.data)
        if problem is None:
            await self._handle_event(eio_sid, pkt.namespace, pkt.id, pkt.data)
            return
        self._drop(eio_sid, str(problem["error"].get("message")))
        sid = self.manager.sid_from_eio_sid(eio_sid, pkt.namespace or NAMESPACE)
        if pkt.id is not None and self.manager.is_connected(sid, pkt.namespace or NAMESPACE):
            await self._send_packet(eio_sid, self.packet_class(
                packet.ACK, namespace=pkt.namespace, id=pkt.id, data=[problem]))

    async def _answer_undecoded(self, eio_sid: str, data: str, problem: Ack) -> None:
        """Ack an EVENT whose payload could not be decoded, when it asked for an ack."""
        header = event_header(data)
        if header is None:
            return
        namespace, ack_id = header
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if self.manager.is_connected(sid, namespace):
            await self._send_packet(eio_sid, self.packet_class(
                packet.ACK, namespace=namespace, id=ack_id, data=[problem]))

    def _drop(self, eio_sid: str, why: str) -> None:
        self.dropped_packets += 1
        log.info("dropped a client packet from %s: %s", eio_sid, why)

    # -- connections that must not stay open ----------------------------------------------

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> None:
        await super()._handle_eio_connect(eio_sid, environ)
        self._deadlines[eio_sid] = asyncio.get_running_loop().call_later(
            self.connect_timeout, self._deadline_passed, eio_sid)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        deadline = self._deadlines.pop(eio_sid, None)
        if deadline is not None:
            deadline.cancel()
        await super()._handle_eio_disconnect(eio_sid, reason)

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        await super()._handle_connect(eio_sid, namespace, data)
        ns = namespace or NAMESPACE
        sid = self.manager.sid_from_eio_sid(eio_sid, ns)
        if eio_sid not in self.environ and sid is not None and self.manager.is_connected(sid, ns):
            # The session was closed (at its deadline) while the connect handler ran: the
            # library skipped the disconnect of a socket not connected yet, so do it now.
            await self._handle_disconnect(eio_sid, ns, self.reason.TRANSPORT_CLOSE)

    def _deadline_passed(self, eio_sid: str) -> None:
        self._deadlines.pop(eio_sid, None)
        sid = self.manager.sid_from_eio_sid(eio_sid, NAMESPACE)
        if sid is None or not self.manager.is_connected(sid, NAMESPACE):
            self.closed_unconnected += 1
            self._close_transport(eio_sid)

    async def disconnect(self, sid: str, namespace: str | None = None,
                         ignore_queue: bool = False) -> None:
        """Disconnect the socket, and close its Engine.IO session when it is on this worker
        (a client that ignores the disconnect packet keeps nothing open)."""
        eio_sid = self.manager.eio_sid_from_sid(sid, namespace or NAMESPACE)
        await super().disconnect(sid, namespace=namespace, ignore_queue=ignore_queue)
        if eio_sid is not None:
            self._close_transport(eio_sid)

    async def close_sessions(self) -> int:
        """Close every Engine.IO session of this worker now (the worker is stopping): each
        socket's `disconnect` handler runs, then the close packet and, on a websocket, the
        close frame (1000) from this side, which even a browser's engine.io, ignoring the
        close packet on a websocket, takes as the cue to reconnect. How many were open."""
        sessions = list(self.eio.sockets)
        for eio_sid in sessions:
            await self._close_session(eio_sid)
        return len(sessions)

    def _close_transport(self, eio_sid: str) -> None:
        """Close an Engine.IO session and its connection, in the background."""
        task = asyncio.get_running_loop().create_task(self._close_session(eio_sid))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close_session(self, eio_sid: str) -> None:
        socket = self.eio.sockets.pop(eio_sid, None)
        if socket is None:
            return
        # Engine.IO's own close only queues a CLOSE packet and leaves the websocket to the
        # client, which may ignore it: the writer's stop signal after it closes the
        # websocket from this side too.
        await socket.close(wait=False, reason=self.eio.reason.SERVER_DISCONNECT)
        socket.queue.put_nowait(None)
