"""One audit row that cannot become an event (values nested hundreds or thousands of levels
deep, written by raw SQL past every edge check) never stops delivery: served workers,
Socket.IO clients of two organisations, the metric, the cursor, and `resync`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from db.cursor_codec import decode_feed_cursor
from db.pool import transaction
from tests.conftest import World, actor_of
from tests.realtime.conftest import Sock, Worker, Workers, add_task, token_for

pytestmark = pytest.mark.asyncio(loop_scope="session")


def deep(levels: int) -> str:
    return '{"a": ' + "[" * levels + "1" + "]" * levels + "}"


async def metric(workers: Workers, name: str) -> float:
    """The sum over the live workers (whichever of them leads counts)."""
    total = 0.0
    async with aiohttp.ClientSession() as http:
        for worker in workers.all:
            async with http.get(f"{worker.url}/metrics") as response:
                for line in (await response.text()).splitlines():
                    if line.startswith(name + " "):
                        total += float(line.split()[1])
    return total


async def org_with_project(world: World) -> tuple[dict[str, Any], dict[str, Any], uuid.UUID]:
    org = await world.org()
    admin = await world.user(org, "admin")
    member = await world.user(org, "designer")
    return admin, member, await world.project(org, members=[member])


async def watching(sock: Sock, worker: Worker, token: str, project: uuid.UUID) -> str:
    await sock.connect(worker.url, token)
    ack = await sock.call("subscribe", {"project_id": str(project)})
    assert ack["ok"], ack
    return str(ack["cursor"])


async def test_a_poisoned_row_never_stops_delivery(
        live: Workers, socks: Callable[[], Sock], world: World, pool: asyncpg.Pool,
        token_app: web.Application) -> None:
    admin_a, member_a, project_a = await org_with_project(world)
    admin_b, member_b, project_b = await org_with_project(world)
    leader, follower = await live.roles()
    same, other = socks(), socks()
    cursor = await watching(same, follower, await token_for(token_app, member_a), project_a)
    await watching(other, leader, await token_for(token_app, member_b), project_b)
    failed_before = await metric(live, "fpm_realtime_rows_failed_total")

    # The pen-test's value, written past the API by raw SQL: 500 levels deep.
    async with transaction(pool, actor_of(admin_a)) as conn:
        spec = await conn.fetchval(
            "INSERT INTO material_specs (org_id, project_id, description, specification) "
            "VALUES ($1, $2, 'poison', $3::text::jsonb) RETURNING id",
            admin_a["org_id"], project_a, deep(500))
    poisoned = await pool.fetchval(
        "SELECT id FROM audit_logs WHERE record_id = $1", spec)
    await add_task(pool, admin_b, project_b, "other org, after")
    await add_task(pool, admin_a, project_a, "same project, after")

    await other.wait_for(lambda: [e["data"]["name"] for e in other.named("task.created")]
                         == ["other org, after"])
    await same.wait_for(lambda: len(same.named("task.created")) == 1)
    bare = same.named("material_spec.created")
    assert [e["id"] for e in bare] == [poisoned]
    assert bare[0]["data"] is None and bare[0]["data_omitted"] is True
    assert bare[0]["record_id"] == str(spec) and decode_feed_cursor(bare[0]["cursor"])
    assert same.named("task.created")[0]["id"] > poisoned
    assert await metric(live, "fpm_realtime_rows_failed_total") == failed_before + 1

    # A row put straight into the audit log, deeper than Python's own json can parse.
    async with pool.acquire() as conn:
        direct = await conn.fetchval(
            "INSERT INTO audit_logs (org_id, project_id, table_name, record_id, action, "
            "new_values) VALUES ($1, $2, 'tasks', $3, 'update', $4::text::jsonb) RETURNING id",
            admin_a["org_id"], project_a, uuid.uuid4(), deep(5000))
    await add_task(pool, admin_b, project_b, "other org, later")
    await other.wait_for(lambda: len(other.named("task.created")) == 2)
    await same.wait_for(lambda: [e["id"] for e in same.named("task.updated")] == [direct])
    assert await metric(live, "fpm_realtime_rows_failed_total") == failed_before + 2
    status = await leader.realtime()
    assert status["last_id"] >= direct  # the cursor went past both rows
    assert decode_feed_cursor(status["cursor"])[0] > 0

    # resync replays both poisoned rows the same way, between the good ones, in order.
    reply = await same.call("resync", {"project_id": str(project_a), "cursor": cursor})
    assert reply["ok"] and "gap" not in reply, reply
    replayed = {e["id"]: e for e in reply["events"]}
    assert {poisoned, direct} <= set(replayed)
    assert all(replayed[i]["data"] is None and replayed[i]["data_omitted"]
               for i in (poisoned, direct))
    assert await metric(live, "fpm_realtime_resync_rows_failed_total") >= 2
    json.dumps(reply)

    # No traceback flood: at most one line per period about the rows, no RecursionError.
    logs = "".join(w.log.read_text() for w in live.all)
    assert "RecursionError" not in logs and "Traceback" not in logs
    assert logs.count("could not be turned into events") <= 4


async def engineio_socket(http: aiohttp.ClientSession, worker: Worker, token: str
                          ) -> aiohttp.ClientWebSocketResponse:
    """A bare Socket.IO connection (a client library would refuse to encode what we send)."""
    ws = await http.ws_connect(f"{worker.url}/socket.io/?EIO=4&transport=websocket")
    assert (await ws.receive_str()).startswith("0")
    await ws.send_str("40" + json.dumps({"token": token}))
    assert (await ws.receive_str()).startswith("40")
    return ws


async def ack_of(ws: aiohttp.ClientWebSocketResponse, packet_id: int) -> Any:
    while True:
        text = await ws.receive_str(timeout=10)
        if text == "2":
            await ws.send_str("3")
        elif text.startswith(f"43{packet_id}"):
            return json.loads(text[len(f"43{packet_id}"):])


# 30,000 levels: the most a packet holds under the 64 KiB message bound (over it, Engine.IO
# closes the connection before decoding anything).
@pytest.mark.parametrize("levels", [900, 5000, 30_000])
async def test_deep_socket_payloads_are_refused_quietly(
        live: Workers, world: World, token_app: web.Application, levels: int) -> None:
    _, member, project = await org_with_project(world)
    worker = live.all[0]
    before = worker.log.read_text()
    async with aiohttp.ClientSession() as http:
        ws = await engineio_socket(http, worker, await token_for(token_app, member))
        deep_value = "[" * levels + "]" * levels
        for n, event in enumerate(("subscribe", "resync", "typing", "unsubscribe")):
            await ws.send_str(f'42{n}["{event}", {{"project_id": {deep_value}}}]')
            await ws.send_str(f'42{n}["{event}", {deep_value}]')
        await ws.send_str(f"4{deep_value}")  # an Engine.IO message that is JSON itself
        # The connection is still there and answers.
        await ws.send_str(f'4299["subscribe", {{"project_id": "{project}"}}]')
        reply = await ack_of(ws, 99)
        assert reply[0]["ok"] is True, reply
        await ws.close()
    logs = worker.log.read_text()[len(before):]
    # Refused as malformed packets (which the library logs), never a RecursionError, and
    # never an HTTP error answer written onto the open websocket.
    assert "RecursionError" not in logs and "unhandled error" not in logs, logs[-3000:]
