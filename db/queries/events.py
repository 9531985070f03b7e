"""User actions and system events on the audit trail (login, logout, export, leader change,
workflow transitions)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg


async def record_event(
    conn: asyncpg.Connection, action: str, *, org_id: uuid.UUID | None,
    user_id: uuid.UUID | None, details: dict[str, Any] | None = None,
    table: str | None = None, record_id: uuid.UUID | None = None,
    project_id: uuid.UUID | None = None,
) -> int:
    """Append one event row (through the SECURITY DEFINER function: the log is append-only)."""
    audit_id: int = await conn.fetchval(
        "SELECT fpm_record_event($1, $2, $3, $4, $5, $6, $7)",
        action, org_id, user_id, details, table, record_id, project_id)
    return audit_id


async def record_transition(conn: asyncpg.Connection, table: str, row: Mapping[str, Any],
                            user_id: uuid.UUID, details: dict[str, Any]) -> None:
    """A `transition` audit row (with the comment) beside the trigger's `update` row of a
    workflow record."""
    await record_event(conn, "transition", org_id=row["org_id"], user_id=user_id,
                       details=details, table=table, record_id=row["id"],
                       project_id=row["project_id"])
