"""User actions and system events on the audit trail (login, logout, export, leader change)."""

from __future__ import annotations

import uuid
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
