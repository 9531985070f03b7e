"""The change feed: audit rows as the leader and `resync` read them, and the leader's cursor."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

# Values come back as text and are parsed by the caller (exact decimals, no codec needed).
_COLUMNS = """
a.id, a.txid::text::bigint AS txid, a.org_id, a.project_id, a.table_name, a.record_id,
a.action, a.old_values::text AS old_values, a.new_values::text AS new_values,
a.changed_fields, a.user_id, a.request_id, a.origin_sid, a.at, a.details::text AS details,
a.bulk
"""

# Rows the leader has not read yet: transactions running at its last snapshot or newer.
# The first line is implied by the second (every running txid is below xmax) and is there for
# the planner: it makes an index range of ix_audit_logs_txid_id start at the oldest unread
# txid; with the OR alone the scan walks the whole index and filters every row ever written.
_UNREAD = """a.txid >= LEAST($2::text::xid8, (SELECT min(x) FROM unnest($1::text[]::xid8[]) x))
AND (a.txid = ANY ($1::text[]::xid8[]) OR a.txid >= $2::text::xid8)"""
# The f-strings of this module interpolate the constants _COLUMNS and _UNREAD only.
UNREAD = f"SELECT {_COLUMNS} FROM audit_logs a WHERE {_UNREAD} ORDER BY a.txid, a.id"  # noqa: S608

# The same, at most $3 rows, with the snapshot they were read in: one statement, one snapshot.
UNREAD_WITH_SNAPSHOT = f"""
WITH s AS (SELECT pg_current_snapshot() AS snap)
SELECT s.snap::text AS snapshot, r.* FROM s
LEFT JOIN LATERAL (
    SELECT {_COLUMNS} FROM audit_logs a WHERE {_UNREAD} ORDER BY a.txid, a.id LIMIT $3
) r ON true
ORDER BY r.txid, r.id
"""  # noqa: S608 - _COLUMNS, _UNREAD

SNAPSHOT = "SELECT pg_current_snapshot()::text"

# One statement: whether the actor may see the project (the function the RLS policies use),
# the horizon, and the rows after the cursor, read in the same snapshot; no rows when the
# project is not visible.
_RESYNC = f"""
WITH horizon AS (
    SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin,
           app_can_see_project($1) AS visible
)
SELECT h.xmin, h.visible, r.* FROM horizon h
LEFT JOIN LATERAL (
    SELECT {_COLUMNS} FROM audit_logs a
    WHERE h.visible AND a.project_id = $1 AND (a.txid, a.id) > ($2::text::xid8, $3::bigint)
      AND a.action = ANY ($4::text[]) AND a.table_name <> 'notifications'
      AND a.table_name = ANY ($5::text[])
    ORDER BY a.txid, a.id
    LIMIT $6
) r ON true
ORDER BY r.txid, r.id
"""  # noqa: S608 - _COLUMNS


async def resync_rows(
    conn: asyncpg.Connection, project_id: uuid.UUID, after: tuple[int, int],
    actions: list[str], tables: list[str], limit: int,
) -> tuple[bool, int, list[asyncpg.Record]]:
    """(project visible to the actor, current horizon, audit rows of the project after
    `after`) in one round trip — RLS decides which rows; none when not visible."""
    rows = await conn.fetch(_RESYNC, project_id, str(after[0]), after[1], actions, tables,
                            limit)
    horizon = int(rows[0]["xmin"])
    return bool(rows[0]["visible"]), horizon, [r for r in rows if r["id"] is not None]


async def visible_horizon(conn: asyncpg.Connection, project_id: uuid.UUID) -> tuple[bool, int]:
    """(project visible to the actor, current horizon) in one round trip."""
    row = await conn.fetchrow(
        "SELECT app_can_see_project($1) AS visible, "
        "pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin", project_id)
    assert row is not None
    return bool(row["visible"]), int(row["xmin"])


async def read_cursor(conn: asyncpg.Connection) -> asyncpg.Record:
    row = await conn.fetchrow(
        """SELECT horizon::text::bigint AS horizon, last_id, leader, updated_at,
                  extract(epoch FROM now() - updated_at)::float AS age
           FROM realtime_cursor WHERE id = 1""")
    assert row is not None, "realtime_cursor has no row: run the migrations"
    return row


async def save_cursor(conn: asyncpg.Connection, horizon: int, last_id: int, leader: str) -> None:
    """Move the durable cursor forward (never back) and mark the leader alive."""
    await conn.execute(
        """UPDATE realtime_cursor
           SET horizon = greatest(horizon, $1::text::xid8), last_id = $2, leader = $3,
               updated_at = now()
           WHERE id = 1""", str(horizon), last_id, leader)


async def set_awake(conn: asyncpg.Connection, awake: bool) -> None:
    await conn.execute(
        "UPDATE realtime_state SET listener_awake = $1, updated_at = now() WHERE id = 1", awake)


async def try_lock(conn: asyncpg.Connection, key: int) -> bool:
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", key))


async def stalled_holder(conn: asyncpg.Connection, key: int, stall_after: float) -> int | None:
    """The backend holding the lock when the cursor has not moved for `stall_after` seconds
    while audit rows wait behind it; None when the leader looks alive."""
    row = await conn.fetchrow(
        """SELECT l.pid FROM realtime_cursor c, pg_locks l
           WHERE c.id = 1 AND c.updated_at < now() - make_interval(secs => $2)
             AND EXISTS (SELECT 1 FROM audit_logs a WHERE a.txid >= c.horizon)
             AND l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = $1
             AND l.objsubid = 1
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND l.pid <> pg_backend_pid()""", key, stall_after)
    return None if row is None else int(row["pid"])


async def terminate(conn: asyncpg.Connection, pid: int) -> bool:
    return bool(await conn.fetchval("SELECT pg_terminate_backend($1)", pid))


async def backend_start(conn: asyncpg.Connection) -> Any:
    """When this connection's backend started (with its pid, it names the backend)."""
    return await conn.fetchval(
        "SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()")


async def terminate_own(conn: asyncpg.Connection, pid: int, started: Any,
                        application_name: str) -> bool:
    """End the backend `pid` if it is still the one started at `started` by this
    application (a pid may have been reused meanwhile)."""
    return bool(await conn.fetchval(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = $1 "
        "AND backend_start = $2 AND application_name = $3", pid, started, application_name))


async def unread_with_snapshot(conn: asyncpg.Connection, xip: Sequence[int], xmax: int,
                               limit: int) -> list[asyncpg.Record]:
    """Up to `limit` unread rows after (xip, xmax); every row also carries the snapshot
    they were read in, and the first row is there (with a NULL id) when none is unread."""
    return list(await conn.fetch(UNREAD_WITH_SNAPSHOT, [str(x) for x in xip], str(xmax),
                                 limit))


async def current_snapshot(conn: asyncpg.Connection) -> str:
    snapshot: str = await conn.fetchval(SNAPSHOT)
    return snapshot


def unread_cursor(conn: asyncpg.Connection, xip: Sequence[int], xmax: int,
                  prefetch: int) -> Any:
    """Every unread row after (xip, xmax), as a server-side cursor (`async for`; inside a
    transaction)."""
    return conn.cursor(UNREAD, [str(x) for x in xip], str(xmax), prefetch=prefetch)


async def pending(conn: asyncpg.Connection, xip: list[int], xmax: int) -> asyncpg.Record:
    """How many rows wait for the leader, and the age of the oldest (seconds)."""
    row = await conn.fetchrow(
        """SELECT count(*) AS events,
                  coalesce(extract(epoch FROM now() - min(at)), 0)::float AS seconds
           FROM audit_logs
           WHERE txid = ANY ($1::text[]::xid8[]) OR txid >= $2::text::xid8""",
        [str(x) for x in xip], str(xmax))
    assert row is not None
    return row


async def can_see_project(conn: asyncpg.Connection, project_id: uuid.UUID) -> bool:
    """The same function the RLS policies use (run it inside `transaction(pool, actor)`)."""
    return bool(await conn.fetchval("SELECT app_can_see_project($1)", project_id))


async def project_in_org(conn: asyncpg.Connection, project_id: uuid.UUID,
                         org_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM projects WHERE id = $1 AND org_id = $2)",
        project_id, org_id))


async def user_names(conn: asyncpg.Connection, user_id: uuid.UUID) -> tuple[str, str]:
    row = await conn.fetchrow("SELECT first_name, last_name FROM users WHERE id = $1", user_id)
    return ("", "") if row is None else (row["first_name"] or "", row["last_name"] or "")
