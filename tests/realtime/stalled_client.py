"""A Socket.IO client over a raw TCP websocket that connects, then stops reading.

It does the HTTP upgrade, takes the Engine.IO open packet, joins the "/" namespace (with
``auth``) and then pauses its transport with a small receive buffer, so whatever the server
sends piles up on the server's side: a slow consumer, for the backlog bound to catch.
``closed`` tells whether the server has cut the connection since.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from typing import Any
from urllib.parse import urlsplit

RECEIVE_BUFFER = 4096


def client_frame(text: str) -> bytes:
    """A masked client text frame (RFC 6455 5.3)."""
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, 0x80 | size)
    elif size < 65536:
        header = struct.pack("!BBH", 0x81, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 0x80 | 127, size)
    return header + mask + masked


async def read_frame(reader: asyncio.StreamReader) -> str:
    """The text of the next (unmasked, unfragmented) server frame."""
    first, second = await reader.readexactly(2)
    size = second & 0x7F
    if size == 126:
        size = struct.unpack("!H", await reader.readexactly(2))[0]
    elif size == 127:
        size = struct.unpack("!Q", await reader.readexactly(8))[0]
    payload = await reader.readexactly(size)
    if first & 0x0F == 0x8:
        raise ConnectionError("the server closed the websocket")
    return payload.decode()


class StalledClient:
    def __init__(self, url: str, auth: Any = None) -> None:
        self.url = url
        self.auth = auth
        self.sid: str | None = None
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        parts = urlsplit(self.url)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (parts.hostname, parts.port))
        self.reader, self.writer = await asyncio.open_connection(sock=sock)
        key = base64.b64encode(os.urandom(16)).decode()
        self.writer.write((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                           f"Host: {parts.netloc}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(head.decode(errors="replace"))
        opened = await read_frame(self.reader)
        assert opened.startswith("0"), opened
        auth = json.dumps(self.auth) if self.auth is not None else ""
        self.writer.write(client_frame("40" + auth))
        while True:
            text = await read_frame(self.reader)
            if text.startswith("40"):
                self.sid = json.loads(text[2:])["sid"]
                break
            if text.startswith("44"):
                raise ConnectionRefusedError(text[2:])

    def stall(self) -> None:
        """Stop reading: from now on the server's frames pile up on its side."""
        assert self.writer is not None
        self.writer.transport.pause_reading()

    async def closed(self, within: float = 5.0) -> bool:
        """True once the server has cut the connection (read what is left, then EOF)."""
        assert self.reader is not None and self.writer is not None
        self.writer.transport.resume_reading()
        try:
            async with asyncio.timeout(within):
                while await self.reader.read(65536):
                    pass
        except TimeoutError:
            return False
        except ConnectionError:
            return True
        return True

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass


async def call(client: StalledClient, event: str, data: Any, ack_id: int = 1) -> Any:
    """Emit with an ack id and read frames until its answer (before stalling)."""
    assert client.reader is not None and client.writer is not None
    client.writer.write(client_frame(f"42{ack_id}" + json.dumps([event, data])))
    prefix = f"43{ack_id}"
    while True:
        text = await read_frame(client.reader)
        if text == "2":
            client.writer.write(client_frame("3"))
        elif text.startswith(prefix):
            return json.loads(text[len(prefix):])[0]
