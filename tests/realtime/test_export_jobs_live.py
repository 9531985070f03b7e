"""Background export jobs across two `formula-pm serve` workers: the requester's sockets (on
either worker) get `export.progress` in order, with the total from the first event on,
nobody else does, and a job whose worker is SIGKILLed mid-way is taken over by the other
worker and finishes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from server.config import Settings
from tests.conftest import World
from tests.realtime.conftest import ROOT, Sock, Worker, Workers, running, token_for
from tests.waiting import eventually

# Five rows a page, 150 ms a page; a silent worker loses its jobs after 2 s.
SLOW = {"EXPORT_JOB_PAGE_ROWS": "5", "EXPORT_JOB_PAGE_DELAY_MS": "150",
        "EXPORT_JOB_STALE_AFTER": "2"}
ROWS = 200


class SlowWorker(Worker):
    def start(self) -> None:
        env = {**os.environ, "DATABASE_URL": self.settings.database_url or "",
               "REDIS_URL": self.settings.redis_url or "", "JWT_SECRET": self.settings.jwt_secret,
               "FPM_ENV": self.settings.env_name, "LOG_LEVEL": "WARNING",
               "DATA_DIR": str(self.data_dir), "PORT": str(self.port), **SLOW}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server", "serve", "--port", str(self.port)],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
async def slow_workers(settings: Settings, tmp_path_factory: pytest.TempPathFactory
                       ) -> AsyncIterator[Workers]:
    group = Workers(settings, tmp_path_factory.mktemp("export-workers"))
    group.all = [SlowWorker(settings, group.all[0].data_dir) for _ in range(2)]
    async with running(group):
        yield group


@pytest.fixture
async def live(slow_workers: Workers, pool: asyncpg.Pool) -> Workers:
    await slow_workers.ensure()
    return slow_workers


async def _job(pool: asyncpg.Pool, job_id: str) -> dict[str, Any]:
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM export_jobs WHERE id = $1::uuid", job_id)
    return dict(row)


def _progress(sock: Sock, job_id: str) -> list[dict[str, Any]]:
    return [e for e in sock.named("export.progress") if e["id"] == job_id]


async def test_progress_goes_in_order_to_the_requester_and_survives_a_sigkill(
        live: Workers, world: World, pool: asyncpg.Pool, token_app: web.Application,
        socks: Callable[[], Sock]) -> None:
    org = await world.org()
    requester = await world.user(org, "admin")
    colleague = await world.user(org, "admin")  # may read the same tasks, not the job
    project = await world.project(org)
    async with pool.acquire() as conn:
        await conn.execute("SET ROLE formula_pm_system")
        await conn.execute(
            "INSERT INTO tasks (org_id, project_id, name) "
            "SELECT $1, $2, 'Task ' || g FROM generate_series(1, $3) g", org, project, ROWS)
        await conn.execute("RESET ROLE")
    token, other = await token_for(token_app, requester), await token_for(token_app, colleague)
    mine = {w.port: socks() for w in live.all}
    theirs = [socks() for _ in live.all]
    for worker, sock in zip(live.all, theirs, strict=True):
        await mine[worker.port].connect(worker.url, token)
        await sock.connect(worker.url, other)

    first = live.all[0]
    async with aiohttp.ClientSession() as http, http.post(
            f"{first.url}/api/v1/exports", headers={"Authorization": f"Bearer {token}"},
            json={"kind": "tasks", "format": "csv",
                  "filters": {"project_id": str(project)}}) as response:
        assert response.status == 202, await response.text()
        job_id = (await response.json())["id"]

    async def running() -> dict[str, Any] | None:
        job = await _job(pool, job_id)
        return job if job["status"] == "running" and job["done"] >= 20 else None

    job = await eventually(running, limit=20, interval=0.05)
    holder = next(w for w in live.all if f":{w.port}:" in job["locked_by"])
    survivor = next(w for w in live.all if w is not holder)
    holder.kill()  # SIGKILL, mid-job

    async def finished() -> dict[str, Any] | None:
        found = await _job(pool, job_id)
        return found if found["status"] in ("done", "failed") else None

    done = await eventually(finished, limit=60, interval=0.1)
    assert done["status"] == "done" and done["rows"] == ROWS, done
    assert done["attempts"] == 2 and done["locked_by"] is None

    watcher = mine[survivor.port]
    await watcher.wait_for(lambda: any(e["status"] == "done"
                                       for e in _progress(watcher, job_id)), limit=10)
    events = _progress(watcher, job_id)
    dones = [e["done"] for e in events]
    assert dones == sorted(dones) and len(set(dones)) == len(dones), dones
    assert events[-1] == {"id": job_id, "kind": "tasks", "status": "done", "done": ROWS,
                          "total": ROWS}
    assert all(e["status"] == "running" for e in events[:-1])
    # The list is counted before its first row: the total from the first event on.
    assert events[0] == {"id": job_id, "kind": "tasks", "status": "running", "done": 0,
                         "total": ROWS}
    assert all(e["total"] == ROWS and e["done"] <= ROWS for e in events), events
    # Events from before the kill (the first worker's run) and after it (the second's).
    assert dones[0] <= job["done"] + 5 and len(events) >= 4, dones
    for sock in theirs:
        if sock.client.connected:
            assert sock.named("export.progress") == [], sock.events

    async with aiohttp.ClientSession() as http, http.get(
            f"{survivor.url}/api/v1/exports/{job_id}/download",
            headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 200
        body = await response.read()
    assert body.count(b"\r\n") == ROWS + 1
    async with pool.acquire() as conn:
        audited = await conn.fetch(
            "SELECT details FROM audit_logs WHERE action = 'export' AND user_id = $1 "
            "ORDER BY id", requester["id"])
    assert [(a["details"]["rows"], a["details"]["download"]) for a in audited] == [
        (ROWS, False), (ROWS, True)]


async def test_a_worker_stopping_cleanly_gives_its_job_back(
        live: Workers, world: World, pool: asyncpg.Pool, token_app: web.Application) -> None:
    org = await world.org()
    requester = await world.user(org, "admin")
    project = await world.project(org)
    async with pool.acquire() as conn:
        await conn.execute("SET ROLE formula_pm_system")
        await conn.execute(
            "INSERT INTO tasks (org_id, project_id, name) "
            "SELECT $1, $2, 'Task ' || g FROM generate_series(1, $3) g", org, project, 100)
        await conn.execute("RESET ROLE")
    token = await token_for(token_app, requester)
    async with aiohttp.ClientSession() as http, http.post(
            f"{live.all[1].url}/api/v1/exports", headers={"Authorization": f"Bearer {token}"},
            json={"kind": "tasks", "format": "xlsx",
                  "filters": {"project_id": str(project)}}) as response:
        assert response.status == 202, await response.text()
        job_id = (await response.json())["id"]

    async def running() -> dict[str, Any] | None:
        job = await _job(pool, job_id)
        return job if job["status"] == "running" and job["done"] >= 10 else None

    job = await eventually(running, limit=20, interval=0.05)
    holder = next(w for w in live.all if f":{w.port}:" in job["locked_by"])
    holder.stop()  # SIGTERM: the job goes back to the queue at once

    async def finished() -> dict[str, Any] | None:
        found = await _job(pool, job_id)
        return found if found["status"] in ("done", "failed") else None

    done = await eventually(finished, limit=30, interval=0.1)
    assert done["status"] == "done" and done["rows"] == 100 and done["attempts"] == 1, done
    assert done["file_name"].endswith(".xlsx")
