"""The leanest Socket.IO-over-websocket load client: one asyncio Protocol per connection.

Even the aiohttp websocket client wakes a task per connection per message (about
25-30 us each on this machine), so 1,000 of them on one core cap out below what a plain
websocket server sends, and a saturation benchmark would measure its own client. This
Protocol parses the server's (unmasked) frames in ``data_received`` and counts ``42``
events in place: no task, no message object, no JSON. It speaks the same protocol as
bench/mini_client.py (Engine.IO v4 open, ``40`` connect, ping -> pong); tests check it
against a real python-socketio server.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import zlib
from typing import Any

from bench.mini_client import Tally

EVENT_PREFIX = b"42"


def client_frame(text: str, opcode: int = 0x1) -> bytes:
    """A masked client frame (RFC 6455 5.3): clients must mask what they send."""
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    else:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    return header + mask + masked


class RawSocketIO(asyncio.Protocol):
    """One websocket connection; ``ready`` resolves once connected to the namespace."""

    def __init__(self, tally: Tally, path: str, *, plain: bool = False,
                 deflate: bool = False) -> None:
        self.tally = tally
        self.path = path
        self.plain = plain
        self.deflate = deflate  # offer permessage-deflate, as browsers do
        self.inflater: Any = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.buf = bytearray()
        self.upgraded = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write((f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                         f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                         + ("Sec-WebSocket-Extensions: permessage-deflate\r\n"
                            if self.deflate else "") + "\r\n").encode())

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buf.startswith(b"HTTP/1.1 101"):
                self._fail(ConnectionError(bytes(self.buf[:60]).decode(errors="replace")))
                return
            del self.buf[:end + 4]
            self.upgraded = True
            if self.plain:
                self.ready.set_result(None)
        self._frames()

    def _frames(self) -> None:
        buf, pos, end = self.buf, 0, len(self.buf)
        while end - pos >= 2:
            first, size, start = buf[pos], buf[pos + 1] & 0x7F, pos + 2
            if size == 126:
                if end - pos < 4:
                    break
                size, start = (buf[pos + 2] << 8) | buf[pos + 3], pos + 4
            elif size == 127:
                if end - pos < 10:
                    break
                size, start = struct.unpack_from("!Q", buf, pos + 2)[0], pos + 10
            if end - start < size:
                break
            pos, opcode = start + size, first & 0x0F
            if first & 0x40:  # compressed (RSV1): inflate, then treat as any text frame
                self._compressed(bytes(buf[start:pos]))
            elif opcode == 0x1 and buf.startswith(EVENT_PREFIX, start):
                self.tally.hit()
            elif opcode == 0x1:
                self._control(bytes(buf[start:pos]))
            elif opcode == 0x9:
                self._send(bytes(buf[start:pos]).decode(), 0xA)
        del buf[:pos]

    def _compressed(self, payload: bytes) -> None:
        if self.inflater is None:
            self.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        text = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
        if text.startswith(EVENT_PREFIX):
            self.tally.hit()
        else:
            self._control(text)

    def _control(self, text: bytes) -> None:
        if text == b"2":
            self._send("3")
        elif text.startswith(b"40"):
            if not self.ready.done():
                self.ready.set_result(None)
        elif text.startswith(b"0"):
            self._send("40")
        elif text.startswith(b"44"):
            self._fail(ConnectionRefusedError(text.decode()))

    def _send(self, text: str, opcode: int = 0x1) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(text, opcode))

    def _fail(self, exc: BaseException) -> None:
        if not self.ready.done():
            self.ready.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(exc or ConnectionError("closed"))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_raw(port: int, count: int, tally: Tally, *, plain: bool = False,
                   deflate: bool = False, parallel: int = 50) -> list[RawSocketIO]:
    """Open ``count`` connections to 127.0.0.1:port, ``parallel`` at a time."""
    path = "/socket.io/" if plain else "/socket.io/?EIO=4&transport=websocket"
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(parallel)

    async def one() -> RawSocketIO:
        async with gate:
            _, proto = await loop.create_connection(
                lambda: RawSocketIO(tally, path, plain=plain, deflate=deflate), "127.0.0.1", port)
            await asyncio.wait_for(proto.ready, 10)
            return proto

    return list(await asyncio.gather(*(one() for _ in range(count))))
