"""Property-based fuzz of the Socket.IO protocol against two live workers.

Each example is a random script: sockets opened on either worker with random credentials,
events with random names (reserved ones among them) and random payloads in random order,
raw frames (malformed, deeply nested). After each script a REST write must still reach a
well-behaved subscriber on each worker, no socket may have received an event of a project
its user may not read, every event sent with an ack must have been answered, and the
workers' logs (every logger: formula_pm.*, socketio, engineio, aiohttp, asyncio) must hold
no traceback and no error.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, Phase, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bench.mini_client import MiniClient
from db.cursor_codec import encode_feed_cursor
from tests.conftest import World
from tests.realtime.conftest import Sock, Workers, token_for

pytestmark = pytest.mark.asyncio(loop_scope="session")

USERS = ("admin_a", "member_a", "outsider_a", "client_a", "admin_b")
# Who may read which project (A: org A's admin and members; B: org B's admin).
READERS = {"A": {"admin_a", "member_a", "watcher"}, "B": {"admin_b"}}
ACK_CODES = {"invalid", "unknown_event", "forbidden", "not_found", "unauthorized",
             "rate_limited", "too_many_subscriptions", "unavailable"}
RESERVED = ["connect", "disconnect", "connect_error", "message", "disconnecting", "*",
            "newListener", "__disconnect_final"]
HANDLED = ["subscribe", "unsubscribe", "resync", "typing"]


@dataclass
class Arena:
    urls: list[str]
    projects: dict[str, str]  # "A" / "B" -> project id
    tokens: dict[str, str]  # user key -> access token
    writer: dict[str, str]  # REST headers of org A's admin
    controls: list[Sock]
    logs: list[Any]  # the workers' log files
    log_start: list[int]
    session: aiohttp.ClientSession
    writes: int = 0


@dataclass
class Open:
    user: str  # a key of USERS, or "garbage" / "none" / "number"
    worker: int


@dataclass
class Emit:
    sock: int
    name: str
    args: list[Any]
    ack: bool


@dataclass
class Raw:
    sock: int
    frame: str


@dataclass
class Close:
    sock: int


@dataclass
class Write:
    """A REST write in project A, through one of the workers."""

    worker: int


@dataclass
class Live:
    """The sockets of one example."""

    socks: list[tuple[str, MiniClient]] = field(default_factory=list)
    unanswered: list[Any] = field(default_factory=list)
    bad_acks: list[Any] = field(default_factory=list)


# -- strategies ------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)
project_refs = st.sampled_from(["A", "B", "random", "garbage"])
cursors = st.one_of(st.just("valid"), st.sampled_from(
    ["OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "YzE6LTE6MA", "!!!!", "é", ""]),
    st.integers(-2**80, 2**80), st.text(max_size=30), json_values)
payloads = st.one_of(
    st.fixed_dictionaries({"token": st.sampled_from(USERS)}),  # as a connect's auth
    st.fixed_dictionaries({"project_id": project_refs},
                          optional={"cursor": cursors, "active": json_values,
                                    "resource": json_values, "record_id": json_values,
                                    "field": json_values}),
    json_values)
names = st.one_of(st.sampled_from(HANDLED), st.sampled_from(RESERVED),
                  st.text(max_size=12))


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


raw_frames = st.one_of(
    st.sampled_from(["4", "4x", "49", "42", "42[", "421[]", "422{}", "423[1]", "40", "41",
                     '40{"token":"x"}', '44{}', "43", "451-[\"x\"]", "6", "2", "3"]),
    st.integers(1, 3000).map(lambda n: '42["typing",' + nested(n) + "]"),
    json_values.map(lambda v: "42" + json.dumps(v)),
    st.text(max_size=30).map(lambda t: "4" + t))
# What a well-behaved client sends: most scripts subscribe somewhere and get events.
well_formed = st.fixed_dictionaries(
    {"project_id": st.sampled_from(["A", "A", "B", "random"])},
    optional={"cursor": st.just("valid"), "active": st.booleans(),
              "resource": st.just("task"), "field": st.just("name")})
opens = st.builds(Open, st.sampled_from([*USERS, "admin_a", "member_a", "member_a",
                                        "garbage", "none", "number"]), st.integers(0, 1))
sockets = st.integers(0, 3)
actions = st.one_of(
    opens,
    st.builds(Emit, sockets, st.sampled_from(HANDLED), well_formed.map(lambda p: [p]),
              st.just(True)),
    st.builds(Emit, sockets, st.sampled_from(HANDLED), well_formed.map(lambda p: [p]),
              st.booleans()),
    st.builds(Emit, sockets, names, st.lists(payloads, max_size=2), st.booleans()),
    st.builds(Emit, sockets, st.sampled_from(HANDLED), payloads.map(lambda p: [p]),
              st.just(True)),
    st.builds(Raw, sockets, raw_frames),
    st.builds(Close, sockets),
    st.builds(Write, st.integers(0, 1)))
steps = st.tuples(st.lists(opens, min_size=1, max_size=3),
                  st.lists(actions, min_size=2, max_size=14)).map(lambda t: t[0] + t[1])


# -- the arena -------------------------------------------------------------------------

@pytest.fixture
async def arena(live: Workers, world: World, token_app: web.Application,
                socks: Callable[[], Sock]) -> AsyncIterator[Arena]:
    org_a, org_b = await world.org(), await world.org()
    users = {"admin_a": await world.user(org_a, "admin"),
             "member_a": await world.user(org_a, "designer"),
             "outsider_a": await world.user(org_a, "designer"),
             "client_a": await world.user(org_a, "client"),
             "admin_b": await world.user(org_b, "admin"),
             "watcher": await world.user(org_a, "designer")}
    project_a = await world.project(org_a, members=[users["member_a"], users["watcher"]])
    project_b = await world.project(org_b)
    tokens = {key: await token_for(token_app, user) for key, user in users.items()}
    controls = []
    for worker in live.all:
        control = socks()
        await control.connect(worker.url, tokens["watcher"])
        ack = await control.call("subscribe", {"project_id": str(project_a)})
        assert ack["ok"], ack
        controls.append(control)
    logs = [worker.log.open("rb") for worker in live.all]
    for log in logs:
        log.seek(0, 2)
    async with aiohttp.ClientSession() as session:
        yield Arena(urls=[w.url for w in live.all],
                    projects={"A": str(project_a), "B": str(project_b)},
                    tokens=tokens, writer={"Authorization": f"Bearer {tokens['admin_a']}"},
                    controls=controls, logs=logs, log_start=[log.tell() for log in logs],
                    session=session)
    for log in logs:
        log.close()


def concrete(value: Any, arena: Arena) -> Any:
    """A payload with its token, project and cursor references made real."""
    if isinstance(value, dict) and set(value) == {"token"}:
        return {"token": arena.tokens.get(value["token"], value["token"])}
    if not isinstance(value, dict) or "project_id" not in value:
        return value
    out = dict(value)
    ref = value["project_id"]
    out["project_id"] = (arena.projects.get(ref) or
                         (str(uuid.uuid4()) if ref == "random" else "not-a-uuid"))
    if out.get("cursor") == "valid":
        out["cursor"] = encode_feed_cursor((0, 0))
    return out


async def run_step(step: Any, arena: Arena, live: Live) -> None:
    if isinstance(step, Write):
        await write(arena, step.worker)
        return
    if isinstance(step, Open):
        auth: Any = {"token": arena.tokens[step.user]} if step.user in arena.tokens else (
            {"token": "garbage"} if step.user == "garbage"
            else None if step.user == "none" else {"token": 5})
        sock = MiniClient(arena.session, arena.urls[step.worker], keep=True, auth=auth)
        try:
            await sock.connect()
        except ConnectionRefusedError:
            await sock.close()
            return
        live.socks.append((step.user, sock))
        return
    if not live.socks:
        return
    _, sock = live.socks[step.sock % len(live.socks)]
    if sock.closed.is_set():
        return
    assert sock.ws is not None
    try:
        if isinstance(step, Close):
            await sock.close()
        elif isinstance(step, Raw):
            await sock.ws.send_str(step.frame)
        elif not step.ack:
            await sock.emit(step.name, *[concrete(a, arena) for a in step.args])
        else:
            answer = await sock.call(step.name, *[concrete(a, arena) for a in step.args],
                                     within=10)
            check_ack(step, answer, live)
    except TimeoutError:
        if not sock.closed.is_set():
            live.unanswered.append(step)
    except (ConnectionError, aiohttp.ClientError):
        pass  # the connection was closed (a raw frame it sent, or the server's answer)


def check_ack(step: Emit, answer: list[Any], live: Live) -> None:
    ack = answer[0] if len(answer) == 1 else None
    if not isinstance(ack, dict) or not isinstance(ack.get("ok"), bool):
        live.bad_acks.append((step, answer))
    elif ack["ok"] is False and ack.get("error", {}).get("code") not in ACK_CODES:
        live.bad_acks.append((step, answer))
    elif ack["ok"] is True and step.name not in HANDLED:
        live.bad_acks.append((step, answer))


def leaks(arena: Arena, live: Live) -> list[Any]:
    """Events of a project received by a socket whose user may not read it."""
    names = {pid: key for key, pid in arena.projects.items()}
    found = []
    for user, sock in live.socks:
        for event, args in sock.events:
            for arg in args:
                project = names.get(arg.get("project_id")) if isinstance(arg, dict) else None
                if project is not None and user not in READERS[project]:
                    found.append((user, event, arg))
    return found


async def write(arena: Arena, worker: int) -> str:
    arena.writes += 1
    name = f"fuzz write {arena.writes}"
    async with arena.session.post(f"{arena.urls[worker]}/api/v1/tasks", headers=arena.writer,
                                  json={"project_id": arena.projects["A"],
                                        "name": name}) as response:
        assert response.status == 201, await response.text()
    return name


async def still_delivered(arena: Arena, worker: int) -> None:
    """A REST write now reaches the subscriber on every worker."""
    name = await write(arena, worker)
    for control in arena.controls:
        await control.wait_for(lambda c=control: any(
            e["data"]["name"] == name for e in c.named("task.created")), limit=15)


def log_problems(arena: Arena) -> list[str]:
    problems = []
    for log in arena.logs:
        for line in log.read().decode(errors="replace").splitlines():
            if "Traceback" in line or '"exc":' in line or '"level": "error"' in line:
                problems.append(line[:2000])
    return problems


# No shrinking: against live servers it can run for minutes; a failure names its script.
@hypothesis_settings(max_examples=150, deadline=timedelta(seconds=30), database=None,
                     phases=[Phase.explicit, Phase.generate],
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow, HealthCheck.data_too_large])
@given(script=steps, write_to=st.integers(0, 1))
# The attack of a client-sent connect: an outsider's socket takes a member's identity.
@example(script=[Open("outsider_a", 0), Emit(0, "connect", [{}, {"token": "member_a"}], False),
                 Emit(0, "subscribe", [{"project_id": "A"}], True)], write_to=1)
async def test_socket_protocol_fuzz(arena: Arena, script: list[Any], write_to: int) -> None:
    live = Live()
    try:
        for step in script:
            await run_step(step, arena, live)
        await still_delivered(arena, write_to)
        await asyncio.sleep(0.1)  # frames of the same emit to the fuzzed sockets
        assert leaks(arena, live) == [], script
        assert live.unanswered == [] and live.bad_acks == [], script
        assert log_problems(arena) == [], script
    finally:
        for _, sock in live.socks:
            await sock.close()
