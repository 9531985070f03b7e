"""One worker without Redis (in-process fan-out) in poll mode: the app as `serve` runs it."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from server.keys import REALTIME_METRICS, SOCKET_OWNER
from tests.conftest import World
from tests.realtime.conftest import InProcess, Sock, add_task


async def test_single_worker_poll_mode_end_to_end(
        one_worker: InProcess, pool: asyncpg.Pool, world: World,
        socks: Callable[[], Sock]) -> None:
    app, http, url = one_worker.app, one_worker.http, one_worker.url
    org = await world.org()
    admin = await world.user(org, "admin")
    member = await world.user(org, "craftsman", first_name="Mehmet")
    project = await world.project(org, members=[member])
    sock = socks()
    await sock.connect(url, await world.token(app, member))
    assert await app[SOCKET_OWNER](sock.sid) == str(member["id"])
    assert await app[SOCKET_OWNER]("someone-else") is None
    ack = await sock.call("subscribe", {"project_id": str(project)})
    assert ack["ok"]
    await sock.wait_for(lambda: bool(sock.named("presence")))
    assert sock.named("presence")[0]["users"][0]["first_name"] == "Mehmet"

    await add_task(pool, admin, project, "polled")
    await sock.wait_for(lambda: bool(sock.named("task.created")))
    assert sock.named("task.created")[0]["data"]["name"] == "polled"
    assert await pool.fetchval("SELECT listener_awake FROM realtime_state")

    ready = await (await http.get("/health/ready")).json()
    realtime = ready["realtime"]
    assert realtime["role"] == "leader" and realtime["mode"] == "poll"
    assert {"status", "listener_connected", "cursor", "lag_events",
            "lag_seconds"} <= set(realtime)
    metrics = app[REALTIME_METRICS]()
    assert metrics["fpm_realtime_sockets"] == 1
    assert metrics["fpm_realtime_events_emitted_total"] >= 1
    assert metrics["fpm_realtime_leader"] == 1
