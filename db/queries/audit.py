"""The audit trail: filtered reads with keyset pages on id, and user/system events."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

COLUMNS = """id, org_id, project_id, table_name, record_id, action, old_values, new_values,
             changed_fields, user_id, request_id, origin_sid, host(ip) AS ip, user_agent,
             details, at"""
FILTERS = {"table": "table_name = ${}", "record_id": "record_id = ${}", "action": "action = ${}",
           "user_id": "user_id = ${}", "project_id": "project_id = ${}", "from": "at >= ${}",
           "to": "at < ${}"}


async def list_audit(conn: asyncpg.Connection, filters: Mapping[str, Any], *,
                     after_id: int | None, descending: bool,
                     limit: int) -> list[asyncpg.Record]:
    """Rows matching every given filter, ordered by id; `after_id` continues a page.

    Row-level security limits the rows: admins see their organisation, others the rows of
    the projects they can see."""
    conditions, args = ["TRUE"], []
    for name, sql in FILTERS.items():
        if filters.get(name) is not None:
            args.append(filters[name])
            conditions.append(sql.format(len(args)))
    if after_id is not None:
        args.append(after_id)
        conditions.append(f"id {'<' if descending else '>'} ${len(args)}")
    order = "DESC" if descending else "ASC"
    return list(await conn.fetch(
        f"SELECT {COLUMNS} FROM audit_logs WHERE {' AND '.join(conditions)} "
        f"ORDER BY id {order} LIMIT {int(limit) + 1}", *args))


async def record_history(conn: asyncpg.Connection, table: str, record_id: uuid.UUID, *,
                         after_id: int | None = None, limit: int = 50) -> list[asyncpg.Record]:
    """The changes of one record, oldest first."""
    return await list_audit(conn, {"table": table, "record_id": record_id},
                            after_id=after_id, descending=False, limit=limit)


async def record_event(conn: asyncpg.Connection, action: str, *, org_id: uuid.UUID | None,
                       user_id: uuid.UUID | None, details: Mapping[str, Any] | None = None,
                       table: str | None = None, record_id: uuid.UUID | None = None,
                       project_id: uuid.UUID | None = None) -> int:
    """A user action or system event (login, export, startup...) in the same log."""
    audit_id: int = await conn.fetchval(
        "SELECT fpm_record_event($1, $2, $3, $4, $5, $6, $7)",
        action, org_id, user_id, dict(details) if details is not None else None, table,
        record_id, project_id)
    return audit_id
