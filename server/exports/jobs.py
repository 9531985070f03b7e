"""The workers of background export jobs.

Every worker looks for queued jobs (at once when one is posted to it, else every
`export_job_poll` seconds) and claims up to EXPORT_JOB_CONCURRENCY with
`FOR UPDATE SKIP LOCKED`; a claimed job is `running`, `locked_by` this worker, whose
heartbeat (every progress step, and at least every third of EXPORT_JOB_STALE_AFTER) keeps
it. A worker that dies (SIGKILL, lost host) stops beating: after EXPORT_JOB_STALE_AFTER
seconds any other worker claims the job again and runs it from the start (the file of the
dead run was in its scratch folder); `done` never goes back, so the requester's progress
stays monotonic. A worker that stops cleanly gives its jobs back to the queue.

A run is the requester's: the identity is re-derived from the stored user (an inactive user
runs nothing), each page is read in the requester's transaction under row-level security,
and a client user's file has no internal costs, as a synchronous export. The finished file
goes to the storage (`org/{org}/exports/{job}`), downloadable by the requester until
`expires_at` (EXPORT_JOB_TTL after it ended); then a periodic sweep deletes the job and its
file (a failed job too). Every finished or failed export is an `export` audit row of the
requester, which stays.

A list's run counts its rows first, in the snapshot it then reads them in
(server/exports/kinds.py): every progress event carries that `total`, `done` never passes
it, and the last event has `done == total`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web

from db.pool import Actor, system_transaction, transaction
from db.queries import export_jobs as queries
from db.queries.events import record_event
from realtime.feed.events import user_room
from server.auth.identity import Identity
from server.errors import ApiError
from server.exports.kinds import JobFailed, JobRun, Produced, kinds_of, register_lists
from server.keys import METRICS, POOL, SETTINGS, STORAGE
from server.live import HUB
from server.periodic import running
from storage.errors import StorageError
from storage.keys import export_key

log = logging.getLogger("formula_pm.exports")

PROGRESS_EVENT = "export.progress"
PROGRESS_EVERY = 0.25  # seconds between two progress events of one job at most this often
SWEEP_EVERY = 60.0  # seconds between two sweeps of expired jobs (server/periodic.py)
MAX_ATTEMPTS = 3  # claims of one job before it fails
SWEEP_BATCH = 100


class Lost(Exception):
    """Another worker holds the job now (this one was silent too long)."""


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


async def audit_export(pool: asyncpg.Pool, actor: Actor, job: Any, *, rows: int, size: int,
                       complete: bool, download: bool = False,
                       more: dict[str, Any] | None = None) -> None:
    """The requester's `export` user action (a job that produced its file, or failed; a
    download of it)."""
    extra = dict(more or {})
    project = _uuid(extra.pop("project_id", None) or job["filters"].get("project_id"))
    details = {"entity": job["kind"], "format": job["format"], "filters": dict(job["filters"]),
               "rows": rows, "bytes": size, "complete": complete, "job_id": str(job["id"]),
               "download": download, **extra}
    async with transaction(pool, actor) as conn:
        await record_event(conn, "export", details, org_id=actor.org_id,
                           user_id=actor.user_id, project_id=project)


class ExportWorker:
    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.settings = app[SETTINGS]
        self.name = f"{self.settings.worker}:{uuid.uuid4().hex[:8]}"
        self.wakeup = asyncio.Event()
        self.running: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._loop: asyncio.Task[None] | None = None
        self.scratch = Path(tempfile.gettempdir())
        self.counts = {"done": 0, "failed": 0, "lost": 0}

    @property
    def pool(self) -> asyncpg.Pool:
        return self.app[POOL]

    def wake(self) -> None:
        self.wakeup.set()

    async def start(self) -> None:
        self.scratch = Path(tempfile.mkdtemp(prefix="fpm-exports-"))
        self._loop = asyncio.create_task(self._forever(), name="export-jobs")

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        jobs = dict(self.running)
        for task in jobs.values():
            task.cancel()
        for job_id, task in jobs.items():
            with contextlib.suppress(asyncio.CancelledError):
                await task
            with contextlib.suppress(asyncpg.PostgresError, OSError, TimeoutError):
                async with system_transaction(self.pool) as conn:
                    await queries.release(conn, job_id, self.name)
        shutil.rmtree(self.scratch, ignore_errors=True)

    async def settle(self) -> None:
        """Until no job of this worker runs (tests)."""
        while self.running:
            await asyncio.wait(set(self.running.values()))

    async def _forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), self.settings.export_job_poll)
            self.wakeup.clear()
            try:
                await self.claim_some()
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError,
                    StorageError) as exc:
                log.warning("export jobs: %s", exc)
            except Exception:  # the loop must outlive any one failure
                log.exception("export jobs: unexpected failure")

    async def claim_some(self) -> int:
        claimed = 0
        while len(self.running) < self.settings.export_job_concurrency:
            async with system_transaction(self.pool) as conn:
                job = await queries.claim(conn, self.name, self.settings.export_job_stale_after,
                                          MAX_ATTEMPTS)
            if job is None:
                break
            claimed += 1
            task = asyncio.create_task(self._run(job), name=f"export-job-{job['id']}")
            self.running[job["id"]] = task
            task.add_done_callback(functools.partial(self._ended, job["id"]))
        return claimed

    def _ended(self, job_id: uuid.UUID, _: object = None) -> None:
        self.running.pop(job_id, None)
        self.wake()  # a slot is free: look for the next job

    async def sweep(self) -> int:
        """Delete the jobs past their time (EXPORT_JOB_TTL after they ended) and their
        files; how many. The files go first and the rows in the same transaction, which
        holds their locks: a file that cannot be removed yet keeps its row for the next
        sweep, and a sweep of another worker skips these rows."""
        storage = self.app[STORAGE]
        keep = dt.timedelta(seconds=self.settings.export_job_ttl)
        async with system_transaction(self.pool) as conn:
            rows = await queries.expired(conn, keep, SWEEP_BATCH)
            gone = []
            for row in rows:
                try:
                    if row["object_key"]:
                        await storage.delete(row["object_key"])
                except StorageError as exc:
                    log.warning("export file %s not removed yet: %s", row["id"], exc)
                    continue
                gone.append(row["id"])
            return await queries.delete_jobs(conn, gone) if gone else 0

    async def _emit(self, job: Any, status: str, done: int, total: int | None) -> None:
        hub = self.app.get(HUB)
        if hub is None:
            return
        payload = {"id": str(job["id"]), "kind": job["kind"], "status": status, "done": done,
                   "total": total}
        try:
            await hub.sio.emit(PROGRESS_EVENT, payload, to=user_room(job["user_id"]))
        except Exception as exc:
            log.warning("export progress not pushed: %s", exc)

    async def _requester(self, job: Any) -> tuple[Identity, Actor]:
        async with system_transaction(self.pool) as conn:
            user = await queries.requester(conn, job["user_id"])
        if user is None or user["status"] != "active" or user["org_id"] != job["org_id"]:
            raise JobFailed("the requester can no longer export")
        who = Identity(user_id=user["id"], org_id=user["org_id"], role=user["role"],
                       session_id=job["id"], client_id=user["client_id"], email=user["email"])
        actor = Actor(user_id=user["id"], org_id=user["org_id"], role=user["role"],
                      request_id=f"export-job-{job['id']}")
        return who, actor

    async def _run(self, job: Any) -> None:
        folder = Path(tempfile.mkdtemp(dir=self.scratch))
        # What the requester was last told (a resumed run: what the stored job says).
        state: dict[str, Any] = {"done": int(job["done"]), "total": job["total"], "sent": 0.0,
                                 "beat": time.monotonic()}
        delay = self.settings.export_job_page_delay_ms / 1000
        actor: Actor | None = None

        async def progress(done: int, total: int | None) -> None:
            stored, known = await self._advance(job, done, total)
            state["beat"] = time.monotonic()
            counted = known is not None and known != state["total"]
            if counted or (stored > state["done"]
                           and time.monotonic() - state["sent"] >= PROGRESS_EVERY):
                # The first event of a run says its total at once, whatever `done` is.
                state["done"], state["total"], state["sent"] = stored, known, time.monotonic()
                await self._emit(job, "running", stored, known)
            if delay:
                await asyncio.sleep(delay)

        beating = asyncio.create_task(self._beat(job, state))
        try:
            kind = kinds_of(self.app).get(job["kind"])
            if kind is None or job["format"] not in kind.formats:
                raise JobFailed(f"no export of kind {job['kind']} as {job['format']}")
            who, actor = await self._requester(job)
            run = JobRun(self.app, job["id"], job["kind"], job["format"], job["filters"], who,
                         actor, folder / "export", progress)
            produced = await kind.run(run)
            await self._finish(job, actor, run.path, produced)
        except Lost:
            self.counts["lost"] += 1
            log.info("export job %s taken over by another worker", job["id"])
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = (str(exc) if isinstance(exc, JobFailed) else exc.detail
                      if isinstance(exc, ApiError) else "the export failed")
            if not isinstance(exc, JobFailed | ApiError):
                log.exception("export job %s failed", job["id"])
            await self._fail(job, actor, reason, state["done"])
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
            shutil.rmtree(folder, ignore_errors=True)

    async def _advance(self, job: Any, done: int, total: int | None) -> tuple[int, int | None]:
        """(done, total) as stored."""
        async with system_transaction(self.pool) as conn:
            stored = await queries.advance(conn, job["id"], self.name, done, total)
        if stored is None:
            raise Lost()
        return stored["done"], stored["total"]

    async def _beat(self, job: Any, state: dict[str, Any]) -> None:
        every = self.settings.export_job_stale_after / 3
        while True:
            await asyncio.sleep(every)
            if time.monotonic() - state["beat"] >= every:
                with contextlib.suppress(asyncpg.PostgresError, OSError, TimeoutError, Lost):
                    await self._advance(job, 0, None)
                    state["beat"] = time.monotonic()

    async def _finish(self, job: Any, actor: Actor, path: Path, produced: Produced) -> None:
        key = export_key(job["org_id"], job["id"])
        size = (await asyncio.to_thread(path.stat)).st_size
        await self.app[STORAGE].put_stream(key, _chunks(path), size=size,
                                           content_type=produced.media_type)
        keep = dt.timedelta(seconds=self.settings.export_job_ttl)
        async with system_transaction(self.pool) as conn:
            done = await queries.finish(conn, job["id"], self.name, rows=produced.rows,
                                        size=size, object_key=key,
                                        file_name=produced.file_name,
                                        media_type=produced.media_type, keep=keep)
        if done is None:
            raise Lost()
        await audit_export(self.pool, actor, job, rows=produced.rows, size=size, complete=True,
                           more={"media_type": produced.media_type, **produced.details})
        self.counts["done"] += 1
        await self._emit(job, "done", done["done"], done["total"])

    async def _fail(self, job: Any, actor: Actor | None, reason: str, done: int) -> None:
        try:
            keep = dt.timedelta(seconds=self.settings.export_job_ttl)
            async with system_transaction(self.pool) as conn:
                failed = await queries.fail(conn, job["id"], self.name, reason, keep)
            if failed is None:
                return
            self.counts["failed"] += 1
            if actor is not None:
                await audit_export(self.pool, actor, job, rows=done, size=0, complete=False,
                                   more={"error": reason})
        except (asyncpg.PostgresError, OSError, TimeoutError) as exc:
            log.warning("export job %s: failure not recorded: %s", job["id"], exc)
            return
        await self._emit(job, "failed", failed["done"], failed["total"])


async def _chunks(path: Path, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    with path.open("rb") as file:
        while chunk := await asyncio.to_thread(file.read, size):
            yield chunk


def _sweep_facts(deleted: int) -> dict[str, int] | None:
    return {"export_jobs_deleted": deleted} if deleted else None


EXPORT_WORKER = web.AppKey("export_worker", ExportWorker)


def setup_export_jobs(app: web.Application) -> None:
    """Register the list kinds once the routes are added, and run this worker's loop
    between the storage's opening and closing."""

    register_lists(app)
    worker = ExportWorker(app)
    app[EXPORT_WORKER] = worker
    app[METRICS].append(lambda: {
        "fpm_export_jobs_running": len(worker.running),
        **{f"fpm_export_jobs_{k}_total": v for k, v in worker.counts.items()}})

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        await worker.start()
        try:
            async with running(SWEEP_EVERY, "export sweep", worker.sweep, _sweep_facts):
                yield
        finally:
            await worker.stop()

    app.cleanup_ctx.append(ctx)
