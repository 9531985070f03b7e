"""SQL of background export jobs. The requester reads and creates its own jobs (row-level
security: user and organisation); workers claim, advance and finish them as the system
role, each update guarded by the worker's name so a worker that lost its claim changes
nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg

from db.queries.locks import hold_for_transaction
from db.queries.rows import PageLike, Records

JOBS = Records("export_jobs", filters=("status", "kind"))
ACTIVE = ("queued", "running")


async def create_job(conn: asyncpg.Connection, *, org_id: uuid.UUID, user_id: uuid.UUID,
                     kind: str, format_: str, filters: dict[str, Any],
                     at_most: int) -> asyncpg.Record | None:
    """A queued job, or None when the user already has `at_most` queued or running (the
    count and the insert under one per-user lock: two requests cannot both slip in)."""
    await hold_for_transaction(conn, f"export-jobs:{user_id}")
    active = await conn.fetchval(
        "SELECT count(*) FROM export_jobs WHERE user_id = $1 AND status = ANY ($2::text[])",
        user_id, list(ACTIVE))
    if active >= at_most:
        return None
    return await conn.fetchrow(
        """INSERT INTO export_jobs (org_id, user_id, kind, format, filters)
           VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING *""",
        org_id, user_id, kind, format_, filters)


async def list_jobs(conn: asyncpg.Connection, page: PageLike,
                    values: dict[str, Any]) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await JOBS.page(conn, page, values)
    return rows


async def one_job(conn: asyncpg.Connection, job_id: uuid.UUID) -> asyncpg.Record | None:
    """The job, or None when it is not the actor's."""
    return await JOBS.one(conn, job_id)


async def claim(conn: asyncpg.Connection, worker: str, stale_after: float,
                max_attempts: int) -> asyncpg.Record | None:
    """The oldest queued job, or a running one whose worker has been silent for
    `stale_after` seconds, now this worker's (None when there is none). Skips rows another
    worker is claiming this instant. A job claimed `max_attempts` times already fails."""
    await conn.execute(
        """UPDATE export_jobs SET status = 'failed', finished_at = clock_timestamp(),
                  error = 'the job was interrupted too many times', locked_by = NULL
           WHERE status = 'running' AND attempts >= $2
             AND heartbeat_at < clock_timestamp() - make_interval(secs => $1)""",
        stale_after, max_attempts)
    return await conn.fetchrow(
        """UPDATE export_jobs SET status = 'running', locked_by = $1, attempts = attempts + 1,
                  heartbeat_at = clock_timestamp(),
                  started_at = coalesce(started_at, clock_timestamp())
           WHERE id = (SELECT id FROM export_jobs
                       WHERE status = 'queued' OR (status = 'running'
                             AND heartbeat_at < clock_timestamp() - make_interval(secs => $2))
                       ORDER BY created_at, id
                       LIMIT 1 FOR UPDATE SKIP LOCKED)
           RETURNING *""", worker, stale_after)


async def advance(conn: asyncpg.Connection, job_id: uuid.UUID, worker: str, done: int,
                  total: int | None) -> asyncpg.Record | None:
    """Record progress and the heartbeat: `(done, total)` as stored, None when this worker
    no longer holds the job. `done` never goes back and never passes `total` (a resumed job
    counts again from zero, and counts its total again: `least` ignores a NULL total)."""
    return await conn.fetchrow(
        """UPDATE export_jobs SET total = coalesce($4, total),
                  done = least(greatest(done, $3), coalesce($4, total)),
                  heartbeat_at = clock_timestamp()
           WHERE id = $1 AND locked_by = $2 AND status = 'running' RETURNING done, total""",
        job_id, worker, done, total)


async def finish(conn: asyncpg.Connection, job_id: uuid.UUID, worker: str, *, rows: int,
                 size: int, object_key: str, file_name: str, media_type: str,
                 keep: dt.timedelta) -> asyncpg.Record | None:
    """The job done: its file kept until `keep` from now. `done` ends equal to `total`, the
    total the run counted first (a kind that never said one: the rows)."""
    return await conn.fetchrow(
        """UPDATE export_jobs SET status = 'done', done = coalesce(total, $3),
                  total = coalesce(total, $3), rows = $3, bytes = $4, object_key = $5,
                  file_name = $6, media_type = $8,
                  finished_at = clock_timestamp(), expires_at = clock_timestamp() + $7,
                  locked_by = NULL, error = NULL
           WHERE id = $1 AND locked_by = $2 AND status = 'running' RETURNING *""",
        job_id, worker, rows, size, object_key, file_name, keep, media_type)


async def fail(conn: asyncpg.Connection, job_id: uuid.UUID, worker: str,
               error: str, keep: dt.timedelta) -> asyncpg.Record | None:
    """The job failed; its row (and error) kept until `keep` from now, as a file would be."""
    return await conn.fetchrow(
        """UPDATE export_jobs SET status = 'failed', error = left($3, 2000),
                  finished_at = clock_timestamp(), locked_by = NULL,
                  expires_at = clock_timestamp() + $4
           WHERE id = $1 AND locked_by = $2 AND status = 'running' RETURNING *""",
        job_id, worker, error, keep)


async def release(conn: asyncpg.Connection, job_id: uuid.UUID, worker: str) -> None:
    """Give a running job back to the queue (this worker is stopping)."""
    await conn.execute(
        """UPDATE export_jobs SET status = 'queued', locked_by = NULL, heartbeat_at = NULL,
                  attempts = greatest(attempts - 1, 0)
           WHERE id = $1 AND locked_by = $2 AND status = 'running'""", job_id, worker)


async def expired(conn: asyncpg.Connection, keep: dt.timedelta,
                  limit: int) -> list[asyncpg.Record]:
    """Ended jobs past their time (`expires_at`; a job that failed before one was set:
    `keep` after it ended), locked for the caller's transaction; rows another sweep holds
    are skipped, so two sweeps never wait on nor fail over the same job."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT id, object_key FROM export_jobs
           WHERE status IN ('done', 'failed', 'expired')
             AND coalesce(expires_at, finished_at + $1, created_at + $1) <= clock_timestamp()
           ORDER BY expires_at NULLS FIRST LIMIT $2 FOR UPDATE SKIP LOCKED""", keep, limit)
    return rows


async def delete_jobs(conn: asyncpg.Connection, job_ids: list[uuid.UUID]) -> int:
    """Delete the jobs (their `export` audit rows stay: they are the record)."""
    deleted = await conn.fetch(
        "DELETE FROM export_jobs WHERE id = ANY ($1::uuid[]) RETURNING id", job_ids)
    return len(deleted)


async def requester(conn: asyncpg.Connection, user_id: uuid.UUID) -> asyncpg.Record | None:
    """Who asked for a job, as sign-in would know them (an inactive user runs nothing)."""
    return await conn.fetchrow(
        "SELECT id, org_id, role, status, email, client_id FROM users WHERE id = $1", user_id)
