"""A small asyncio TCP proxy between one worker and PostgreSQL that can stall a connection.

`blackhole(tag)` silently stalls every open connection whose first client bytes (the
PostgreSQL startup packet, which names the `application_name`) contain `tag`: the proxy stops
forwarding in both directions but keeps both sockets open, so neither the worker nor the
server sees a close, and TCP keepalives are still answered by the kernels. That is a
stalled-not-closed connection, the case a keepalive at the application level must catch.
New connections are forwarded as usual.
"""

from __future__ import annotations

import asyncio
import contextlib

from tests.conftest import _free_port

CHUNK = 65536


class Link:
    """One client connection and its upstream twin."""

    def __init__(self, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream = upstream
        self.hello = b""  # the first bytes the client sent (SSL request, startup packet)
        self.stalled = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    def close(self) -> None:
        for writer in (self.client, self.upstream):
            writer.close()
        for task in self.tasks:
            task.cancel()


class Proxy:
    """Listens on a free TCP port; forwards to PostgreSQL's unix socket `target`."""

    def __init__(self, target: str) -> None:
        self.target = target  # the socket path (the rig updates it if a restart moves it)
        self.port = _free_port()
        self.links: set[Link] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in list(self.links):
            link.close()
        self.links.clear()

    def blackhole(self, tag: bytes) -> int:
        """Stall the open connections whose startup names `tag`; returns how many."""
        hit = [link for link in self.links if tag in link.hello]
        for link in hit:
            link.stalled.set()
        return len(hit)

    def release_stalled(self) -> None:
        """Close the stalled connections (what a NAT or firewall timeout eventually does)."""
        for link in [link for link in self.links if link.stalled.is_set()]:
            link.close()
            self.links.discard(link)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(self.target)
        except OSError:
            writer.close()  # PostgreSQL is down: refuse, as the server itself would
            return
        link = Link(writer, up_writer)
        self.links.add(link)
        link.tasks = [asyncio.create_task(self._pump(link, reader, up_writer, True)),
                      asyncio.create_task(self._pump(link, up_reader, writer, False))]
        with contextlib.suppress(asyncio.CancelledError):  # the proxy stopping
            await asyncio.gather(*link.tasks, return_exceptions=True)
        if not link.stalled.is_set():
            link.close()
            self.links.discard(link)

    async def _pump(self, link: Link, source: asyncio.StreamReader,
                    sink: asyncio.StreamWriter, from_client: bool) -> None:
        try:
            while True:
                data = await source.read(CHUNK)
                if link.stalled.is_set():
                    await asyncio.Event().wait()  # hold everything, close nothing
                if not data:
                    break
                if from_client and len(link.hello) < 1024:
                    link.hello += data[:1024]
                sink.write(data)
                await sink.drain()
        except (OSError, ConnectionError):
            pass
        finally:
            if not link.stalled.is_set():
                with contextlib.suppress(OSError, RuntimeError):
                    sink.close()
