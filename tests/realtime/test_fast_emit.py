"""The fast emit path against real Socket.IO servers and real clients: once, in order, exact."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NamedTuple

import aiohttp
import pytest
import redis.asyncio as aioredis
import socketio
from aiohttp import web

from bench.mini_client import MiniClient, Tally
from bench.raw_client import open_raw
from realtime.hub.socketio_ext.fast_emit import (
    Emission,
    FastAsyncManager,
    FastAsyncRedisManager,
    Prelude,
    text_frame,
    versions_supported,
)
from tests.waiting import eventually

ROOM = "project:1"


class Server:
    """A live python-socketio server on a free port; clients name their rooms in ``auth``."""

    def __init__(self, manager: Any) -> None:
        self.manager = manager
        self.sio = socketio.AsyncServer(async_mode="aiohttp", client_manager=manager)
        self.sio.on("connect", self._connect)
        self.sio.on("work", self._work)
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        for room in (auth or {}).get("rooms", []):
            await self.sio.enter_room(sid, room)

    async def _work(self, sid: str, seq: int) -> dict[str, int]:
        """Emit event ``seq`` to the room by the fast path, then answer through the stock ack."""
        await self.sio.emit("n", {"seq": seq}, room=ROOM)
        return {"done": seq}

    async def start(self) -> Server:
        app = web.Application()
        self.sio.attach(app)
        self.runner = web.AppRunner(app, shutdown_timeout=1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        close = getattr(self.manager, "redis", None)
        if getattr(self.manager, "thread", None) is not None:
            self.manager.thread.cancel()
        if close is not None:
            await close.aclose()
        assert self.runner is not None
        await self.sio.shutdown()  # ends pending long-polls, which would hold cleanup
        await self.runner.cleanup()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = await Server(FastAsyncManager()).start()
    yield srv
    await srv.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        yield http


async def mini(session: aiohttp.ClientSession, srv: Server, count: int, rooms: list[str],
               tally: Tally | None = None) -> list[MiniClient]:
    clients = [MiniClient(session, srv.url, keep=True, tally=tally, auth={"rooms": rooms})
               for _ in range(count)]
    await asyncio.gather(*(c.connect() for c in clients))
    return clients


def seqs(client: MiniClient) -> list[int]:
    return [args[0]["seq"] for name, args in client.events if name == "n"]


async def until_listening(probe: Callable[[], Awaitable[None]], far: MiniClient,
                          within: float = 20) -> None:
    """Probe until a client of the other server gets one: that server listens on the channel."""
    async def heard() -> bool:
        await probe()
        await asyncio.sleep(0.05)
        return bool(far.events)

    await eventually(heard, limit=within, interval=0,
                     explain="the other server never received from the channel")


def test_frame_headers_follow_rfc6455() -> None:
    assert text_frame(b"hi") == b"\x81\x02hi"
    assert text_frame(b"x" * 300)[:4] == b"\x81\x7e\x01\x2c"
    assert text_frame(b"x" * 70000)[:10] == b"\x81\x7f" + (70000).to_bytes(8, "big")
    assert versions_supported()


async def test_room_gets_every_event_once_in_order(server: Server,
                                                   session: aiohttp.ClientSession) -> None:
    tally = Tally()
    members = await mini(session, server, 60, [ROOM], tally)
    skipped = (await mini(session, server, 1, [ROOM]))[0]
    outside = await mini(session, server, 3, ["project:2"])
    sdk = socketio.AsyncClient()
    sdk_seen: list[int] = []
    sdk.on("n", lambda data: sdk_seen.append(data["seq"]))
    await sdk.connect(server.url, auth={"rooms": [ROOM]}, transports=["websocket"])
    tally.expect(60 * 500)
    for seq in range(500):
        await server.sio.emit("n", {"seq": seq}, room=ROOM, skip_sid=skipped.sid)
        if seq % 7 == 0:
            await asyncio.sleep(0)
    await asyncio.wait_for(tally.done.wait(), 30)
    await eventually(lambda: len(sdk_seen) == 500, limit=20, interval=0.01)
    assert all(seqs(c) == list(range(500)) for c in members)
    assert sdk_seen == list(range(500))
    assert seqs(skipped) == [] and all(seqs(c) == [] for c in outside)
    assert server.manager.fast_deliveries > 0
    await sdk.disconnect()
    await asyncio.gather(*(c.close() for c in [*members, skipped, *outside]))


async def test_to_sid_and_several_rooms_are_exact(server: Server,
                                                  session: aiohttp.ClientSession) -> None:
    both, first, second, neither = [
        (await mini(session, server, 1, rooms))[0]
        for rooms in (["a", "b"], ["a"], ["b"], ["c"])]
    await server.sio.emit("n", {"seq": 1}, to=["a", "b"])
    await server.sio.emit("n", {"seq": 2}, to=first.sid)
    await server.sio.emit("n", {"seq": 3}, room=["a", "b"], skip_sid=[first.sid, second.sid])
    await server.sio.emit("other", ("x", 2))  # several arguments, whole namespace
    await eventually(lambda: len(neither.events) == 1 and len(both.events) == 3,
                     limit=20, interval=0.01)
    await asyncio.sleep(0.05)
    assert seqs(both) == [1, 3] and seqs(first) == [1, 2] and seqs(second) == [1]
    assert neither.events == [("other", ["x", 2])]
    await asyncio.gather(*(c.close() for c in (both, first, second, neither)))


async def test_polling_client_is_served_by_the_stock_path(server: Server) -> None:
    client = socketio.AsyncClient()
    seen: list[int] = []
    client.on("n", lambda data: seen.append(data["seq"]))
    await client.connect(server.url, auth={"rooms": [ROOM]}, transports=["polling"])
    before = server.manager.stock_deliveries
    for seq in range(50):
        await server.sio.emit("n", {"seq": seq}, room=ROOM)
        if seq % 5 == 4:  # python-engineio's client rejects a poll answer of over 16 packets
            await eventually(lambda sent=seq + 1: len(seen) == sent, limit=20, interval=0.01)
    assert seen == list(range(50))
    assert server.manager.stock_deliveries - before == 50
    await server.sio.disconnect(client.get_sid())  # a polling client's own disconnect lingers
    await eventually(lambda: not client.connected, limit=20, interval=0.01)
    await client.disconnect()


async def test_client_upgraded_from_polling_gets_the_fast_path(server: Server) -> None:
    client = socketio.AsyncClient()  # default transports: polling, then the websocket upgrade
    seen: list[int] = []
    client.on("n", lambda data: seen.append(data["seq"]))
    await client.connect(server.url, auth={"rooms": [ROOM]})
    for seq in range(10):  # during and around the upgrade
        await server.sio.emit("n", {"seq": seq}, room=ROOM)
        await eventually(lambda sent=seq + 1: len(seen) == sent, limit=20, interval=0.01)
    await eventually(lambda: client.transport() == "websocket", limit=20, interval=0.01)
    await asyncio.sleep(0.05)
    before = server.manager.fast_deliveries
    for seq in range(10, 200):
        await server.sio.emit("n", {"seq": seq}, room=ROOM)
    await eventually(lambda: len(seen) == 200, limit=20, interval=0.01)
    assert seen == list(range(200))
    assert server.manager.fast_deliveries > before
    await client.disconnect()


async def test_stock_packets_and_fast_emits_keep_one_order(server: Server,
                                                           session: aiohttp.ClientSession) -> None:
    clients = await mini(session, server, 8, [ROOM])
    noop: Callable[..., None] = lambda *args: None  # noqa: E731
    order = random.Random(7)
    fast_before, stock_before = server.manager.fast_deliveries, server.manager.stock_deliveries
    for seq in range(400):
        if order.random() < 0.4:  # stock path: a callback makes every packet unique
            for client in clients:
                await server.sio.emit("n", {"seq": seq}, to=client.sid, callback=noop)
        else:
            await server.sio.emit("n", {"seq": seq}, room=ROOM)
        if order.random() < 0.3:
            await asyncio.sleep(0)  # let writers run now and then: both socket states occur
    await eventually(lambda: all(len(c.events) == 400 for c in clients), limit=20, interval=0.01)
    assert all(seqs(c) == list(range(400)) for c in clients)
    assert server.manager.fast_deliveries > fast_before
    assert server.manager.stock_deliveries > stock_before  # fast emits that had to queue
    await asyncio.gather(*(c.close() for c in clients))


async def test_acks_are_not_overtaken(server: Server, session: aiohttp.ClientSession) -> None:
    caller, watcher = await mini(session, server, 2, [ROOM])
    for seq in range(100):
        answer = await caller.call("work", seq)
        assert answer == [{"done": seq}]
        assert seqs(caller)[-1] == seq  # the event was on the wire before the ack
    await eventually(lambda: len(watcher.events) == 100, limit=20, interval=0.01)
    assert seqs(watcher) == list(range(100))
    await asyncio.gather(caller.close(), watcher.close())


async def test_raw_bench_client_speaks_to_a_real_server(server: Server) -> None:
    tally = Tally()
    conns = await open_raw(int(server.url.rsplit(":", 1)[1]), 20, tally)
    await eventually(lambda: len(server.manager.rooms["/"].get(None, {})) == 20,
                     limit=20, interval=0.01)
    for name in server.manager.rooms["/"][None]:
        await server.sio.enter_room(name, ROOM)
    tally.expect(20 * 30)
    for seq in range(30):
        await server.sio.emit("n", {"seq": seq}, room=ROOM)
    await asyncio.wait_for(tally.done.wait(), 10)
    for conn in conns:
        conn.close()


async def test_redis_variant_delivers_across_two_servers(redis_url: str,
                                                         session: aiohttp.ClientSession) -> None:
    channel = f"fpm-test-fanout-{uuid.uuid4().hex}"
    one = await Server(FastAsyncRedisManager(redis_url, channel=channel)).start()
    two = await Server(FastAsyncRedisManager(redis_url, channel=channel)).start()
    try:
        near = await mini(session, one, 5, [ROOM])
        far = await mini(session, two, 5, [ROOM])
        skipped = (await mini(session, two, 1, [ROOM]))[0]
        await until_listening(lambda: one.sio.emit("probe", {}, room=ROOM), far[0])
        for seq in range(200):
            await one.sio.emit("n", {"seq": seq}, room=ROOM, skip_sid=skipped.sid)
        await eventually(lambda: all(len(seqs(c)) == 200 for c in near + far),
                         limit=20, interval=0.01)
        assert all(seqs(c) == list(range(200)) for c in near + far)
        assert seqs(skipped) == []
        assert two.manager.fast_deliveries >= 1000 and one.manager.fast_deliveries >= 1000
        await asyncio.gather(*(c.close() for c in [*near, *far, skipped]))
    finally:
        await one.stop()
        await two.stop()


def batch(skip: str) -> list[Emission]:
    """60 events: "n" to room a, room b, or both, every fifth skipping one socket."""
    targets: list[Any] = ["a", "b", ["a", "b"]]
    return [Emission("n", {"seq": seq}, targets[seq % 3], skip if seq % 5 == 0 else None)
            for seq in range(60)]


def expected(rooms: set[str], skipped: bool) -> list[int]:
    targets = [{"a"}, {"b"}, {"a", "b"}]
    return [seq for seq in range(60) if targets[seq % 3] & rooms
            and not (skipped and seq % 5 == 0)]


async def test_local_batch_is_exact_and_in_order(server: Server,
                                                 session: aiohttp.ClientSession) -> None:
    in_a, in_b, in_both = [await mini(session, server, 2, rooms)
                           for rooms in (["a"], ["b"], ["a", "b"])]
    await server.manager.emit_many(batch(in_a[0].sid))
    await eventually(lambda: len(seqs(in_both[1])) == 60, limit=20, interval=0.01)
    assert seqs(in_a[0]) == expected({"a"}, True) and seqs(in_a[1]) == expected({"a"}, False)
    assert all(seqs(c) == expected({"b"}, False) for c in in_b)
    assert all(seqs(c) == list(range(60)) for c in in_both)
    await asyncio.gather(*(c.close() for c in [*in_a, *in_b, *in_both]))


async def test_redis_batch_reaches_a_stock_manager_in_order_after_a_lost_connection(
        redis_url: str, session: aiohttp.ClientSession) -> None:
    """One pipeline of stock messages: a stock AsyncRedisManager on the channel delivers
    them; the publishing connection killed by Redis costs nothing (reconnect, publish)."""
    channel, name = f"fpm-test-batch-{uuid.uuid4().hex}", f"fpm-batch-{uuid.uuid4().hex[:8]}"
    fast = FastAsyncRedisManager(redis_url, channel=channel,
                                 redis_options={"client_name": name})
    one = await Server(fast).start()
    two = await Server(socketio.AsyncRedisManager(redis_url, channel=channel)).start()
    admin = aioredis.Redis.from_url(redis_url)
    try:
        near = await mini(session, one, 2, ["a"])
        far_a, far_b = await mini(session, two, 2, ["a"]), await mini(session, two, 1, ["b"])
        await until_listening(lambda: fast.emit_many([Emission("probe", {}, "a")]), far_a[0])
        # Kill the publishing connections (not the subscription) between two batches.
        killed = [await admin.client_kill_filter(_id=client["id"])
                  for client in await admin.client_list()
                  if client.get("name") == name and client.get("sub") == "0"]
        assert killed
        await fast.emit_many(batch(far_a[0].sid))
        await eventually(lambda: len(seqs(far_b[0])) == len(expected({"b"}, False)),
                         limit=20, interval=0.01)
        await eventually(lambda: len(seqs(far_a[1])) == len(expected({"a"}, False)),
                         limit=20, interval=0.01)
        assert seqs(far_a[0]) == expected({"a"}, True)
        assert seqs(far_a[1]) == expected({"a"}, False)
        assert seqs(far_b[0]) == expected({"b"}, False)
        assert all(seqs(c) == expected({"a"}, False) for c in near)
        await asyncio.gather(*(c.close() for c in [*near, *far_a, *far_b]))
    finally:
        await admin.aclose()
        await one.stop()
        await two.stop()


class Alone:
    """A prelude's `alone`, counting its calls and what the clients had seen by then."""

    def __init__(self, clients: list[MiniClient]) -> None:
        self.clients = clients
        self.seen: list[int] = []

    async def __call__(self) -> None:
        self.seen.append(sum(len(seqs(c)) for c in self.clients))


class PreludeRig(NamedTuple):
    fast: FastAsyncRedisManager
    near: MiniClient  # a socket of the publishing server, in room "a"
    reader: aioredis.Redis
    listener: Any  # a subscription to the channel
    key: str


@pytest.fixture
async def prelude_rig(redis_url: str, session: aiohttp.ClientSession
                      ) -> AsyncIterator[PreludeRig]:
    channel = f"fpm-test-prelude-{uuid.uuid4().hex}"
    fast = FastAsyncRedisManager(redis_url, channel=channel)
    one = await Server(fast).start()
    reader = aioredis.Redis.from_url(redis_url)
    listener = reader.pubsub()
    key = f"fpm-test-prelude-{uuid.uuid4().hex}"
    try:
        [near] = await mini(session, one, 1, ["a"])
        await listener.subscribe(channel)
        await listener.get_message(timeout=1)  # the subscription's confirmation
        yield PreludeRig(fast, near, reader, listener, key)
        await near.close()
    finally:
        await listener.aclose()
        await reader.delete(key)
        await reader.aclose()
        await one.stop()


async def test_a_prelude_runs_in_the_publish_before_any_delivery(prelude_rig: PreludeRig
                                                                 ) -> None:
    """The leader's invalidation heads the pipeline of its publish: a subscriber that reads
    the key the moment the event arrives finds it set; no second round trip (`alone`)."""
    rig = prelude_rig
    alone = Alone([rig.near])
    await rig.fast.emit_many([Emission("n", {"seq": 0}, "a")],
                             Prelude([("SET", rig.key, "retired", "EX", 30)], alone))
    message = await rig.listener.get_message(timeout=5)
    assert message is not None and message["type"] == "message"
    assert await rig.reader.get(rig.key) == b"retired"
    await eventually(lambda: seqs(rig.near) == [0], limit=10, interval=0.01)
    assert alone.seen == []


async def test_a_refused_prelude_is_done_alone_and_the_events_go_once(prelude_rig: PreludeRig
                                                                      ) -> None:
    rig = prelude_rig
    await rig.reader.set(rig.key, "not a number", ex=30)
    alone = Alone([rig.near])
    await rig.fast.emit_many([Emission("n", {"seq": 0}, "a")],
                             Prelude([("INCRBY", rig.key, 1)], alone))
    assert alone.seen == [0]  # before this worker delivered anything
    await eventually(lambda: seqs(rig.near) == [0], limit=10, interval=0.01)
    assert (await rig.listener.get_message(timeout=2))["type"] == "message"
    assert await rig.listener.get_message(timeout=0.5) is None  # published once


async def test_without_redis_a_prelude_is_done_alone_first(
        server: Server, session: aiohttp.ClientSession, unused_tcp_port: int) -> None:
    near = await mini(session, server, 1, ["a"])
    alone = Alone(near)
    await server.manager.emit_many([Emission("n", {"seq": 0}, "a")],
                                   Prelude([("SET", "k", "v")], alone))
    assert alone.seen == [0]
    await eventually(lambda: seqs(near[0]) == [0], limit=10, interval=0.01)
    # A Redis manager whose server is gone: tried twice, then the prelude alone, then the
    # local delivery all the same.
    gone = await Server(FastAsyncRedisManager(f"redis://127.0.0.1:{unused_tcp_port}/0",
                                              channel="fpm-test-gone")).start()
    try:
        far = await mini(session, gone, 1, ["a"])
        alone = Alone(far)
        await gone.manager.emit_many([Emission("n", {"seq": 1}, "a")],
                                     Prelude([("SET", "k", "v")], alone))
        assert alone.seen == [0]
        await eventually(lambda: seqs(far[0]) == [1], limit=10, interval=0.01)
        await far[0].close()
    finally:
        await gone.stop()
    await near[0].close()


def test_unsupported_server_falls_back_to_stock() -> None:
    manager = FastAsyncManager()
    socketio.AsyncServer(async_mode="asgi", client_manager=manager)
    assert manager.fast_enabled is False
