"""User actions and system events on the audit trail (login, logout, import, startup, leader
change, workflow transitions ...): the one way to append one, and the worker's last start or
stop."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg


async def record_event(
    conn: asyncpg.Connection, action: str, details: dict[str, Any] | None = None, *,
    org_id: uuid.UUID | None = None, user_id: uuid.UUID | None = None,
    table: str | None = None, record_id: uuid.UUID | None = None,
    project_id: uuid.UUID | None = None,
) -> int:
    """Append one event row (through the SECURITY DEFINER function: the log is append-only);
    its id. A service event names no organisation and no user.

    `details` travel as JSON text (values JSON cannot hold as their `str`), so any
    connection will do: the pool's, or a bare one of the leader or a command."""
    text = None if details is None else json.dumps(details, default=str)
    audit_id: int = await conn.fetchval(
        "SELECT fpm_record_event($1, $2, $3, $4::text::jsonb, $5, $6, $7)",
        action, org_id, user_id, text, table, record_id, project_id)
    return audit_id


async def last_start_or_stop(conn: asyncpg.Connection, worker: str) -> asyncpg.Record | None:
    """The latest `startup` or `shutdown` row of the worker named `worker`."""
    return await conn.fetchrow(
        """SELECT id, action, at, details FROM audit_logs
           WHERE org_id IS NULL AND action IN ('startup', 'shutdown')
             AND details->>'worker' = $1
           ORDER BY id DESC LIMIT 1""", worker)


async def record_transition(conn: asyncpg.Connection, table: str, row: Mapping[str, Any],
                            user_id: uuid.UUID, details: dict[str, Any]) -> None:
    """A `transition` audit row (with the comment) beside the trigger's `update` row of a
    workflow record."""
    await record_event(conn, "transition", org_id=row["org_id"], user_id=user_id,
                       details=details, table=table, record_id=row["id"],
                       project_id=row["project_id"])
