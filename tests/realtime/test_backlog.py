"""The per-socket backlog bound: counted exactly, a client that stops reading is dropped
(its disconnect handlers run) while a reading client in the same room gets every event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from engineio import packet as eio_packet

from bench.mini_client import MiniClient
from realtime.hub.backlog import PACKET_OVERHEAD, Backlog, MeteredQueue, packet_bytes
from realtime.hub.socketio_ext.fast_emit import FastAsyncManager
from tests.realtime.stalled_client import StalledClient
from tests.realtime.test_fast_emit import Server as LiveServer
from tests.waiting import eventually

ROOM = "project:1"
LIMIT = 256 * 1024
PAYLOAD = "x" * 2000


class Server(LiveServer):
    """The fast-emit tests' live server with a small backlog bound; records disconnects."""

    def __init__(self) -> None:
        super().__init__(FastAsyncManager())
        self.manager.backlog.limit = LIMIT
        self.sio.on("disconnect", self._disconnect)
        self.gone: list[str] = []

    async def _disconnect(self, sid: str, reason: Any = None) -> None:
        self.gone.append(sid)

    def queue_of(self, sid: str) -> MeteredQueue:
        queue = self.sio.eio.sockets[self.sio.manager.eio_sid_from_sid(sid, "/")].queue
        assert isinstance(queue, MeteredQueue)
        return queue


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = await Server().start()
    yield srv
    await srv.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


def msg(text: str) -> eio_packet.Packet:
    return eio_packet.Packet(eio_packet.MESSAGE, text)


async def test_metered_queue_counts_bytes_and_refuses_over_the_bound() -> None:
    backlog = Backlog(limit=1000)
    queue = MeteredQueue(backlog)
    assert packet_bytes(msg("abc")) == 3 + PACKET_OVERHEAD
    assert packet_bytes(eio_packet.Packet(eio_packet.PING)) == PACKET_OVERHEAD
    assert packet_bytes(None) == 0
    queue.put_nowait(msg("a" * 300))
    await queue.put(msg("b" * 300))
    assert queue.bytes == 600 + 2 * PACKET_OVERHEAD and queue.waiting() == queue.bytes
    first = queue.get_nowait()
    queue.task_done()  # as Engine.IO's writer does
    assert first.data == "a" * 300 and queue.bytes == 300 + PACKET_OVERHEAD
    queue.put_nowait(msg("c" * 600))  # 316 + 616 <= 1000: kept
    assert queue.qsize() == 2 and backlog.dropped == 0
    queue.put_nowait(msg("d" * 100))  # would take it over: the socket is dropped instead
    assert backlog.dropped == 1 and queue.dropped
    assert queue.qsize() == 0 and queue.bytes == 0  # cleared: the memory is given back
    queue.put_nowait(msg("e"))
    assert queue.qsize() == 0  # nothing more is kept for a dropped socket
    queue.put_nowait(None)  # but the writer's stop signal still goes through
    assert queue.get_nowait() is None
    queue.task_done()
    await asyncio.wait_for(queue.join(), 1)  # a close(wait=True) cannot hang on it
    backlog.drop(queue)
    assert backlog.dropped == 1  # once


async def test_a_client_that_stops_reading_is_dropped_and_the_room_keeps_everything(
        server: Server, session: aiohttp.ClientSession) -> None:
    reader = MiniClient(session, server.url, keep=True, auth={"rooms": [ROOM]})
    await reader.connect()
    stalled = StalledClient(server.url, auth={"rooms": [ROOM]})
    await stalled.connect()
    assert stalled.sid is not None
    queue = server.queue_of(stalled.sid)
    stalled.stall()
    sent, most = 0, 0
    try:
        # The kernel buffers take a few MB first; then the server's side fills up.
        while server.manager.backlog.dropped == 0 and sent < 20_000:
            await server.sio.emit("n", {"seq": sent, "pad": PAYLOAD}, room=ROOM)
            sent += 1
            most = max(most, queue.waiting())
            if sent % 20 == 0:
                await asyncio.sleep(0)  # let the reader read, as a live server would
        assert server.manager.backlog.dropped == 1, f"not dropped after {sent} events"
        for extra in range(sent, sent + 50):  # the room goes on as before
            await server.sio.emit("n", {"seq": extra, "pad": PAYLOAD}, room=ROOM)
        sent += 50
        print(f"dropped after {sent} events, most waiting {most}")
        assert most <= LIMIT  # what waited for the slow client never exceeded the bound
        # disconnect handlers ran
        await eventually(lambda: stalled.sid in server.gone, limit=10, interval=0.01)
        assert await stalled.closed()
        await eventually(lambda: len(reader.events) == sent, limit=20, interval=0.01)
        assert [args[0]["seq"] for _, args in reader.events] == list(range(sent))
        assert reader.ws is not None and not reader.ws.closed
        assert server.manager.backlog.dropped == 1
    finally:
        await stalled.close()
        await reader.close()


async def test_the_sweep_drops_a_socket_already_over_the_bound(
        server: Server, session: aiohttp.ClientSession) -> None:
    stalled = StalledClient(server.url, auth={"rooms": [ROOM]})
    await stalled.connect()
    assert stalled.sid is not None
    queue = server.queue_of(stalled.sid)
    stalled.stall()
    try:
        for seq in range(5000):  # until something waits on the server's side
            await server.sio.emit("n", {"seq": seq, "pad": PAYLOAD}, room=ROOM)
            if queue.waiting() > 64 * 1024:
                break
        assert server.manager.backlog.dropped == 0 and queue.waiting() > 64 * 1024
        assert server.manager.backlog.sweep_once() == 0
        server.manager.backlog.limit = 32 * 1024  # nothing new arrives: the sweep finds it
        assert server.manager.backlog.sweep_once() == 1
        await eventually(lambda: stalled.sid in server.gone, limit=10, interval=0.01)
        assert await stalled.closed()
    finally:
        await stalled.close()
