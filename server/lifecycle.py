"""A worker's life on the audit trail: `startup` (and whether the previous run of the same
worker name ended without `shutdown`), `shutdown` with the uptime, and `server_error` for
every 5xx answer, at most one row per second per worker (the rest are counted into the
next row), so an outage cannot flood the log."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import time
from collections.abc import AsyncIterator
from importlib import metadata
from typing import Any

import asyncpg
from aiohttp import web

from db.admin_sql import current_revision
from db.pool import Actor, system_transaction
from db.queries import events
from server.errors import ON_SERVER_ERROR, REQUEST_ID, ServerErrorHook
from server.keys import POOL, SETTINGS
from server.system_events import SERVER_ERROR, SHUTDOWN, STARTUP

log = logging.getLogger("formula_pm.lifecycle")

WRITE_TIMEOUT = 2.0


def package_version() -> str:
    try:
        return metadata.version("formula-pm")
    except metadata.PackageNotFoundError:
        return "unknown"


async def previous_run(conn: asyncpg.Connection, worker: str) -> dict[str, Any] | None:
    """The last startup of `worker` when no shutdown followed it (a crash, SIGKILL)."""
    row = await events.last_start_or_stop(conn, worker)
    if row is None or row["action"] != STARTUP:
        return None
    details = row["details"] or {}
    return {"startup_id": row["id"], "started_at": row["at"].isoformat(),
            "pid": details.get("pid"), "ended": "without shutdown"}


async def record_startup(pool: asyncpg.Pool, worker: str) -> None:
    async with pool.acquire() as conn:  # the login's table, not the system role's
        revision = await current_revision(conn)
    async with system_transaction(pool) as conn:
        unclean = await previous_run(conn, worker)
        await events.record_event(conn, STARTUP, {
            "worker": worker, "version": package_version(), "revision": revision,
            "pid": os.getpid(), "host": socket.gethostname(),
            "previous_run_ended_cleanly": unclean is None, "previous_run": unclean})


async def record_shutdown(pool: asyncpg.Pool, worker: str, uptime: float) -> None:
    async with system_transaction(pool) as conn:
        await events.record_event(conn, SHUTDOWN, {
            "worker": worker, "pid": os.getpid(), "graceful": True,
            "uptime_seconds": round(uptime, 3)})


class ServerErrors:
    """Records 5xx answers: one row per `interval` at most; the others are counted."""

    def __init__(self, app: web.Application, interval: float = 1.0) -> None:
        self.app = app
        self.interval = interval
        self.last = -float("inf")
        self.suppressed = 0
        self.tasks: set[asyncio.Task[None]] = set()

    def __call__(self, request: web.Request, status: int) -> None:
        now = time.monotonic()
        if now - self.last < self.interval:
            self.suppressed += 1
            return
        self.last = now
        details = {"worker": self.app[SETTINGS].worker, "status": status,
                   "method": request.method, "path": request.path[:200],
                   "request_id": request.get(REQUEST_ID),
                   "suppressed_before": self.suppressed}
        self.suppressed = 0
        task = asyncio.create_task(self._write(details))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _write(self, details: dict[str, Any]) -> None:
        try:
            async with asyncio.timeout(WRITE_TIMEOUT), system_transaction(
                    self.app[POOL], Actor(None, None, request_id=details["request_id"])) as conn:
                await events.record_event(conn, SERVER_ERROR, details)
        except Exception as exc:  # the database may be what failed: the log line stays
            log.warning("server_error not recorded: %s", exc)

    async def drain(self) -> None:
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=WRITE_TIMEOUT)


def setup_lifecycle(app: web.Application) -> None:
    hook: ServerErrorHook = ServerErrors(app)
    app[ON_SERVER_ERROR] = hook
    app.cleanup_ctx.append(lifecycle_ctx)


async def lifecycle_ctx(app: web.Application) -> AsyncIterator[None]:
    """Startup and shutdown rows around the worker's life (after the pool opens, before
    it closes); a failure to write them is logged, never fatal."""
    worker = app[SETTINGS].worker
    started = time.monotonic()
    try:
        await record_startup(app[POOL], worker)
    except (OSError, asyncpg.PostgresError) as exc:
        log.warning("startup not recorded: %s", exc)
    log.info("worker started", extra={"worker": worker,
                                      "at": dt.datetime.now(dt.UTC).isoformat()})
    yield
    errors = app.get(ON_SERVER_ERROR)
    if isinstance(errors, ServerErrors):
        await errors.drain()
    with contextlib.suppress(OSError, asyncpg.PostgresError, TimeoutError):
        async with asyncio.timeout(WRITE_TIMEOUT):
            await record_shutdown(app[POOL], worker, time.monotonic() - started)
