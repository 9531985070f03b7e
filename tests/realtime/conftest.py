"""Live real-time harness: `formula-pm serve` workers as subprocesses sharing the test
database and Redis, Socket.IO clients that record what they receive, and SQL writers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import socketio
from aiohttp import web

from db.pool import transaction
from server.auth.sessions import start_session
from server.config import Settings
from server.keys import POOL, SETTINGS
from tests.conftest import _free_port, actor_of
from tests.waiting import eventually, until_healthy

ROOT = Path(__file__).resolve().parents[2]


class Worker:
    """One `formula-pm serve` process."""

    def __init__(self, settings: Settings, data_dir: Path) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir / f"worker-{self.port}.log"

    def start(self) -> None:
        env = {**os.environ, "DATABASE_URL": self.settings.database_url or "",
               "REDIS_URL": self.settings.redis_url or "", "JWT_SECRET": self.settings.jwt_secret,
               "FPM_ENV": self.settings.env_name, "LOG_LEVEL": "WARNING",
               "DATA_DIR": str(self.data_dir), "PORT": str(self.port),
               "SOCKET_MAX_PER_USER": str(self.settings.socket_max_per_user)}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server", "serve", "--port", str(self.port)],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def ready(self, limit: float = 30) -> None:
        await until_healthy(self.url, limit=limit, log=self.log.read_text,
                            alive=lambda: self.alive)

    async def realtime(self) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http, http.get(f"{self.url}/health/ready") as r:
            body: dict[str, Any] = await r.json()
            return dict(body["realtime"])

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.alive and self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


class Workers:
    def __init__(self, settings: Settings, data_dir: Path, count: int = 2) -> None:
        self.all = [Worker(settings, data_dir) for _ in range(count)]

    async def ensure(self) -> None:
        """Start whatever is not running (a test may have killed one)."""
        dead = [w for w in self.all if not w.alive]
        for worker in dead:
            worker.start()
        for worker in dead:
            await worker.ready()

    async def roles(self, limit: float = 10) -> tuple[Worker, Worker]:
        """(leader, follower) once exactly one of the live workers leads."""
        statuses: list[dict[str, Any]] = []

        async def single_leader() -> tuple[Worker, Worker] | None:
            live = [w for w in self.all if w.alive]
            statuses[:] = [await w.realtime() for w in live]
            leaders = [w for w, s in zip(live, statuses, strict=True) if s["role"] == "leader"]
            if len(leaders) == 1 and len(live) > 1:
                return leaders[0], next(w for w in live if w is not leaders[0])
            return None

        return await eventually(single_leader, limit=limit, interval=0.2,
                                explain=lambda: f"no single leader: {statuses}")


@contextlib.asynccontextmanager
async def running(group: Workers) -> AsyncIterator[Workers]:
    """Every worker of `group` started and ready; all stopped at the end."""
    for worker in group.all:
        worker.start()
    try:
        for worker in group.all:
            await worker.ready()
        yield group
    finally:
        for worker in group.all:
            worker.stop()


@pytest.fixture(scope="module")
async def workers(settings: Settings, tmp_path_factory: pytest.TempPathFactory
                  ) -> AsyncIterator[Workers]:
    async with running(Workers(settings, tmp_path_factory.mktemp("workers"))) as group:
        yield group


@pytest.fixture
async def live(workers: Workers, pool: asyncpg.Pool) -> Workers:
    """Workers running, state clean (the autouse `clean_state` ran: it needs `pool`)."""
    await workers.ensure()
    return workers


class Sock:
    """A Socket.IO client that records every event it receives."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.connect_errors: list[Any] = []
        self.disconnected = asyncio.Event()
        self.client.on("*", self._record)
        self.client.on("connect_error", self._refused)
        self.client.on("disconnect", self._gone)

    async def _record(self, event: str, data: Any = None) -> None:
        self.events.append((event, data))

    async def _refused(self, data: Any = None) -> None:
        self.connect_errors.append(data)

    async def _gone(self, reason: Any = None) -> None:
        self.disconnected.set()

    @property
    def sid(self) -> str:
        return str(self.client.get_sid("/"))

    async def connect(self, url: str, token: str | None) -> None:
        auth = {"token": token} if token is not None else None
        await self.client.connect(url, auth=auth, transports=["websocket"], wait_timeout=10)

    async def call(self, event: str, data: Any) -> Any:
        return await self.client.call(event, data, timeout=10)

    def named(self, name: str) -> list[Any]:
        return [d for e, d in self.events if e == name]

    def changes(self) -> list[dict[str, Any]]:
        return [d for e, d in self.events if "." in e]

    async def wait_for(self, check: Callable[[], bool], limit: float = 10) -> None:
        await eventually(check, limit=limit, interval=0.02,
                         explain=lambda: f"received: {self.events[-10:]}")

    async def close(self) -> None:
        if self.client.connected:
            await self.client.disconnect()


@pytest.fixture
async def socks() -> AsyncIterator[Callable[[], Sock]]:
    made: list[Sock] = []

    def make() -> Sock:
        made.append(Sock())
        return made[-1]

    yield make
    for sock in made:
        await sock.close()


@pytest.fixture
def token_app(settings: Settings, pool: asyncpg.Pool) -> web.Application:
    """Enough of an app to start sessions (tokens) exactly as sign-in does."""
    app = web.Application()
    app[SETTINGS] = settings
    app[POOL] = pool
    return app


async def token_for(app: web.Application, user: dict[str, Any]) -> str:
    pair = await start_session(app, user_id=user["id"], org_id=user["org_id"],
                               role=user["role"])
    return pair.access_token


async def add_task(pool: asyncpg.Pool, user: dict[str, Any], project: uuid.UUID,
                   name: str, **actor: Any) -> uuid.UUID:
    async with transaction(pool, actor_of(user, **actor)) as conn:
        task_id: uuid.UUID = await conn.fetchval(
            "INSERT INTO tasks (org_id, project_id, name) VALUES ($1, $2, $3) RETURNING id",
            user["org_id"], project, name)
    return task_id


async def audit_ids(pool: asyncpg.Pool, project: uuid.UUID, table: str = "tasks") -> list[int]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT id FROM audit_logs WHERE project_id = $1 AND table_name = $2 ORDER BY id",
            project, table)
    return [r["id"] for r in rows]


class InProcess:
    """One worker in this process (no Redis: in-process fan-out), polling the audit log."""

    def __init__(self, app: web.Application, http: Any) -> None:
        self.app = app
        self.http = http
        self.url = str(http.make_url("")).rstrip("/")


@pytest.fixture
async def one_worker(aiohttp_client: Any, memory_settings: Settings,
                     pool: asyncpg.Pool) -> InProcess:
    """The app as `serve` runs it without Redis, in poll mode, with a test client."""

    from server.app import create_app

    app = create_app(memory_settings.model_copy(update={"realtime_mode": "poll"}))
    return InProcess(app, await aiohttp_client(app))

