"""A lean websocket-only Socket.IO v5 client (Engine.IO v4) on aiohttp, for loads of 1,000s.

python-socketio's AsyncClient runs several tasks and a queue per connection, too heavy to
hold 1,000 clients on one core. This one speaks just enough of the protocol: the Engine.IO
open packet, pings answered with pongs, the namespace connect ("40", with auth), events
("42"), acks ("43") and disconnect ("41"). ``plain=True`` skips the handshake, for the plain
websocket baseline that sends the very same frames.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp


class Tally:
    """Counts events over many clients and fires when a target count is reached."""

    def __init__(self) -> None:
        self.count = 0
        self.target = -1
        self.first = 0.0
        self.last = 0.0
        self.done = asyncio.Event()

    def expect(self, target: int) -> None:
        self.count, self.target, self.first, self.last = 0, target, 0.0, 0.0
        self.done.clear()

    def hit(self) -> None:
        self.last = time.perf_counter()
        if not self.count:
            self.first = self.last
        self.count += 1
        if self.count == self.target:
            self.done.set()


class MiniClient:
    """One connection; events are counted in ``tally`` and, with ``keep``, decoded and kept."""

    def __init__(self, session: aiohttp.ClientSession, url: str, *, tally: Tally | None = None,
                 keep: bool = False, plain: bool = False, auth: Any = None,
                 on_event: Callable[[str, list[Any]], None] | None = None) -> None:
        self.session = session
        self.url = url
        self.tally = tally or Tally()
        self.keep = keep
        self.plain = plain
        self.auth = auth
        self.on_event = on_event
        self.events: list[tuple[str, list[Any]]] = []
        self.sid: str | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._acks: dict[int, asyncio.Future[list[Any]]] = {}
        self._next_ack = 0
        self._reader: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()  # set when the connection ends, for whatever reason

    async def connect(self, path: str = "/socket.io/") -> None:
        if self.plain:
            self.ws = await self.session.ws_connect(self.url + path, autoping=False)
        else:
            self.ws = await self.session.ws_connect(
                f"{self.url}{path}?EIO=4&transport=websocket", autoping=False)
            await self._handshake()
        self._reader = asyncio.create_task(self._read())

    async def _handshake(self) -> None:
        assert self.ws is not None
        opened = await self.ws.receive_str()
        if not opened.startswith("0"):
            raise ConnectionError(f"expected an Engine.IO open packet, got {opened[:40]!r}")
        await self.ws.send_str("40" + (json.dumps(self.auth) if self.auth is not None else ""))
        while True:
            text = await self.ws.receive_str()
            if text == "2":
                await self.ws.send_str("3")
            elif text.startswith("40"):
                self.sid = json.loads(text[2:])["sid"]
                return
            elif text.startswith("44"):
                raise ConnectionRefusedError(text[2:])
            elif text.startswith("42"):  # a room event can beat the connect reply
                self._incoming(text)
            else:
                raise ConnectionError(f"unexpected packet before connect: {text[:40]!r}")

    async def _read(self) -> None:
        assert self.ws is not None
        ws = self.ws
        try:
            while True:
                msg = await ws.receive()
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
                text = msg.data
                if text.startswith("42"):
                    self._incoming(text)
                elif text == "2":
                    await ws.send_str("3")
                elif text.startswith("43"):
                    self._ack(text[2:])
                elif text.startswith("41") or text == "1":
                    break
        except (aiohttp.ClientError, ConnectionError):
            pass
        finally:
            self._gone()

    def _gone(self) -> None:
        """The connection ended: wake whoever waits for an ack, and say so."""
        self.closed.set()
        for future in self._acks.values():
            if not future.done():
                future.set_exception(ConnectionError("connection closed"))
        self._acks.clear()

    def _incoming(self, text: str) -> None:
        self.tally.hit()
        if self.keep or self.on_event:  # "42" [ack id] [event, *args]
            self._event(json.loads(text[text.index("["):]))

    def _event(self, args: list[Any]) -> None:
        if self.keep:
            self.events.append((args[0], args[1:]))
        if self.on_event:
            self.on_event(args[0], args[1:])

    def _ack(self, body: str) -> None:
        split = body.index("[")
        future = self._acks.pop(int(body[:split]), None)
        if future is not None and not future.done():
            future.set_result(json.loads(body[split:]))

    async def emit(self, event: str, *args: Any) -> None:
        assert self.ws is not None
        await self.ws.send_str("42" + json.dumps([event, *args]))

    async def call(self, event: str, *args: Any, within: float = 10) -> list[Any]:
        """Emit with an ack id and wait for the server's answer."""
        assert self.ws is not None
        self._next_ack += 1
        ack = self._next_ack
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._acks[ack] = future
        try:
            await self.ws.send_str(f"42{ack}" + json.dumps([event, *args]))
            return await asyncio.wait_for(future, within)
        finally:
            self._acks.pop(ack, None)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)


async def connect_many(session: aiohttp.ClientSession, url: str, count: int, *,
                       tally: Tally, parallel: int = 50, **options: Any) -> list[MiniClient]:
    """Open ``count`` clients, ``parallel`` handshakes at a time."""
    clients = [MiniClient(session, url, tally=tally, **options) for _ in range(count)]
    gate = asyncio.Semaphore(parallel)

    async def one(client: MiniClient) -> None:
        async with gate:
            await client.connect()

    await asyncio.gather(*(one(c) for c in clients))
    return clients
