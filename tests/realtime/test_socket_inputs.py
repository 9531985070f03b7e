"""Every socket handler answers every input with an ack, and no client input is logged with
a traceback: a table of bad inputs per handler, unknown events, malformed packets."""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from bench.mini_client import MiniClient
from db.cursor_codec import encode_feed_cursor
from realtime.hub.limits import TokenBucket
from server.app import create_app
from server.config import Settings
from server.live import HUB
from tests.conftest import World

Factory = Callable[..., Awaitable[TestClient[Any, Any]]]
PROJECT = "00000000-0000-4000-8000-000000000001"  # replaced by the real project's id


def raw_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


DEEP: Any = {"project_id": PROJECT}
for _ in range(200):
    DEEP = {"a": [DEEP]}
# Inputs no handler can use, each sent as the event's arguments.
NOT_A_PAYLOAD: list[tuple[Any, ...]] = [
    (), (None,), (1,), ("x",), ([],), ({},), (True,), (DEEP,),
    ({"project_id": 5},), ({"project_id": None},), ({"project_id": "not-a-uuid"},),
    ({"project_id": ["x"]},), ({"project_id": "x" * 5000},),
    ({"project_id": PROJECT}, "extra"),
]
BAD_CURSORS: list[Any] = [
    raw_cursor("c1:99999999999999999999999:0"), raw_cursor("c1:0:99999999999999999999999"),
    raw_cursor(f"c1:{2**63}:0"), raw_cursor("c1:-1:0"), raw_cursor("c1:0:-5"),
    raw_cursor("c1:\u0661\u0662:0"), raw_cursor("c1:\u00b2:0"), raw_cursor("c2:1:1"),
    raw_cursor("c1:1"), raw_cursor("c1:1:1:1"), raw_cursor("c1: 1:1"),
    "!!!!", "é", "a", "=", "x" * 101, "", 99999999999999999999999, -1, 1.5, None, [], {},
    {"c": 1}, True,
]
BAD_TYPING: list[dict[str, Any]] = [
    {"active": "yes"}, {"active": 1}, {"active": None}, {"resource": 5},
    {"record_id": {}}, {"field": ["x"]},
]


def table() -> list[tuple[str, tuple[Any, ...]]]:
    """(event, arguments) pairs that must each be answered `invalid`."""
    rows = [(event, args) for event in ("subscribe", "unsubscribe", "resync", "typing")
            for args in NOT_A_PAYLOAD[:-1]]
    rows += [(event, NOT_A_PAYLOAD[-1]) for event in ("subscribe", "unsubscribe", "typing")]
    rows += [("resync", ({"project_id": PROJECT, "cursor": c},)) for c in BAD_CURSORS]
    rows += [("resync", ({"project_id": PROJECT},))]
    rows += [("typing", ({"project_id": PROJECT, **t},)) for t in BAD_TYPING]
    return rows


def with_project(value: Any, project: str) -> Any:
    if value == PROJECT:
        return project
    if isinstance(value, dict):
        return {k: with_project(v, project) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(with_project(v, project) for v in value)
    return value


class Tracebacks(logging.Handler):
    """Every record with a traceback or at error level, from any logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.bad: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "asyncio" and record.getMessage().startswith("Unclosed "):
            # A client object of the tests (an earlier test's, collected now) that was not
            # closed: aiohttp's own warning, not a handler of the server failing.
            return
        if record.exc_info or record.levelno >= logging.ERROR:
            self.bad.append(record)


@pytest.fixture
def tracebacks() -> AsyncIterator[Tracebacks]:
    gc.collect()  # what earlier tests left unclosed is reported now, not during this one
    handler = Tracebacks()
    root = logging.getLogger()
    root.addHandler(handler)
    levels = {name: logging.getLogger(name).level
              for name in ("socketio", "engineio", "socketio.server", "engineio.server")}
    yield handler  # type: ignore[misc]
    root.removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


async def member_socket(aiohttp_client: Factory, settings: Settings, world: World,
                        session: aiohttp.ClientSession) -> tuple[Any, MiniClient, str, str]:
    app = create_app(settings)
    http = await aiohttp_client(app)
    url = str(http.make_url("")).rstrip("/")
    org = await world.org()
    admin = await world.user(org, "admin")
    project = str(await world.project(org, members=[admin]))
    token = await world.token(app, admin)
    sock = MiniClient(session, url, keep=True, auth={"token": token})
    await sock.connect()
    [ack] = await sock.call("subscribe", {"project_id": project})
    assert ack["ok"], ack
    return app, sock, project, url


async def test_every_handler_answers_bad_input_with_invalid(
        aiohttp_client: Factory, settings: Settings, world: World,
        session: aiohttp.ClientSession, tracebacks: Tracebacks) -> None:
    app, sock, project, _ = await member_socket(aiohttp_client, settings, world, session)
    client = app[HUB].clients.get(str(sock.sid))
    assert client is not None
    client.bucket = TokenBucket(rate=1000, burst=1000, tokens=1000)  # the table is long
    unanswered, wrong = [], []
    for event, args in table():
        args = with_project(args, project)
        try:
            answer = await sock.call(event, *args, within=5)
        except TimeoutError:
            unanswered.append((event, args))
            continue
        if (len(answer) != 1 or answer[0].get("ok") is not False
                or answer[0]["error"]["code"] != "invalid"
                or not answer[0]["error"].get("message")):
            wrong.append((event, args, answer))
    assert unanswered == [] and wrong == []
    [ack] = await sock.call("resync", {"project_id": project,
                                       "cursor": encode_feed_cursor((0, 0))})
    assert ack["ok"] is True  # the socket is still served
    assert [r.getMessage() for r in tracebacks.bad] == []
    await sock.close()


async def test_unknown_events_are_answered_unknown_event(
        aiohttp_client: Factory, settings: Settings, world: World,
        session: aiohttp.ClientSession, tracebacks: Tracebacks) -> None:
    _, sock, project, _ = await member_socket(aiohttp_client, settings, world, session)
    for name in ("nope", "message", "presence", "evicted", "", "x" * 1000, "SUBSCRIBE"):
        for args in ((), ({"project_id": project},), (1, 2, 3)):
            [ack] = await sock.call(name, *args, within=5)
            assert ack == {"ok": False, "error": {
                "code": "unknown_event", "message": f"unknown event {name[:64]!r}"}}
    await sock.emit("nope", {"no": "ack asked"})  # nothing to answer: nothing breaks
    [ack] = await sock.call("typing", {"project_id": project})
    assert ack == {"ok": True}
    assert [r.getMessage() for r in tracebacks.bad] == []
    await sock.close()


async def test_malformed_packets_are_dropped_quietly(
        aiohttp_client: Factory, settings: Settings, world: World,
        session: aiohttp.ClientSession, tracebacks: Tracebacks) -> None:
    app, sock, project, url = await member_socket(aiohttp_client, settings, world, session)
    assert sock.ws is not None
    answers = []
    for frame in ("4", "4x", "49", "42[", "42" + "[" * 5000 + "]" * 5000,
                  '451-["subscribe",{"_placeholder":true,"num":9}]', "43", "43abc",
                  '4/other,42["subscribe"]', "41/other,", "44{}", "40/nope,{}", "b!!", "bQUJD"):
        await sock.ws.send_str(frame)
    await sock.ws.send_bytes(b"\x04\x00\xff")
    answers.append(await sock.call("typing", {"project_id": project}))
    for frame in ("garbage", "", "\x00\xff", "x4"):  # not even Engine.IO: closed
        garbled = MiniClient(session, url, auth={"token": sock.auth["token"]})
        await garbled.connect()
        assert garbled.ws is not None
        await garbled.ws.send_str(frame)
        await asyncio.wait_for(garbled.closed.wait(), 5)
    answers.append(await sock.call("typing", {"project_id": project}))
    assert answers == [[{"ok": True}]] * 2
    hub = app[HUB]
    assert hub.sio.dropped_packets >= 10
    assert [r.getMessage() for r in tracebacks.bad] == []
    await sock.close()


async def test_event_payloads_without_a_name_are_invalid(
        aiohttp_client: Factory, settings: Settings, world: World,
        session: aiohttp.ClientSession, tracebacks: Tracebacks) -> None:
    _, sock, _, url = await member_socket(aiohttp_client, settings, world, session)
    ws_url = url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    token = sock.auth["token"]
    async with session.ws_connect(ws_url) as ws:
        await ws.receive_str()  # the Engine.IO open packet
        await ws.send_str("40" + json.dumps({"token": token}))
        assert (await ws.receive_str()).startswith("40")
        for ack_id, body in enumerate(('[]', '{}', '[1]', '[null]', '[["x"]]', '"typing"'), 1):
            await ws.send_str(f"42{ack_id}{body}")
            answer = await ws.receive_str()
            assert answer == (f'43{ack_id}[{{"ok":false,"error":{{"code":"invalid","message":'
                              '"an event is a list whose first element is its name"}}]')
    assert [r.getMessage() for r in tracebacks.bad] == []
    await sock.close()


async def test_connect_refusals_are_answered_without_a_traceback(
        aiohttp_client: Factory, settings: Settings, world: World,
        session: aiohttp.ClientSession, tracebacks: Tracebacks) -> None:
    _, sock, _, url = await member_socket(aiohttp_client, settings, world, session)
    for auth in (5, "x", [], {"token": 5}, {"token": ""}, {"token": "x" * 5000},
                 {"token": "é.é.é"}, {"token": "eyJhbGciOiJub25lIn0.e30."}, {"token": None},
                 {"token": str(uuid.uuid4())}):
        refused = MiniClient(session, url, auth=auth)
        with pytest.raises(ConnectionRefusedError) as error:
            await refused.connect()
        assert '"code":"unauthorized"' in str(error.value).replace(" ", "")
        await refused.close()
    assert [r.getMessage() for r in tracebacks.bad] == []
    await sock.close()


def test_the_ack_id_of_an_undecodable_event_is_read_without_its_payload() -> None:
    from realtime.hub.socketio_ext.protocol import event_header

    deep = "[" * 5000 + "]" * 5000
    assert event_header(f'212["subscribe",{deep}]') == ("/", 12)
    assert event_header(f'2/admin,5["x",{deep}]') == ("/admin", 5)
    for no_ack in ('2["subscribe",{}]', "3[1]", "0{}", "2x[1]", ""):
        assert event_header(no_ack) is None
