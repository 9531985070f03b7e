"""The audit trail: filtered reads with keyset pages on id (events are written by
`db.queries.events`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from db.queries.rows import count_if_asked, where

COLUMNS = """id, org_id, project_id, table_name, record_id, action, old_values, new_values,
             changed_fields, user_id, request_id, origin_sid, host(ip) AS ip, user_agent,
             details, at"""
FILTERS = {"table": "table_name = {}", "record_id": "record_id = {}", "action": "action = {}",
           "user_id": "user_id = {}", "project_id": "project_id = {}", "from": "at >= {}",
           "to": "at < {}"}


async def list_audit(conn: asyncpg.Connection, filters: Mapping[str, Any], *,
                     after_id: int | None, descending: bool,
                     limit: int) -> list[asyncpg.Record]:
    """Rows matching every given filter, ordered by id; `after_id` continues a page.

    Row-level security limits the rows: admins see their organisation, others the rows of
    the projects they can see."""
    chosen = [(sql, filters.get(name)) for name, sql in FILTERS.items()]
    await count_if_asked(conn, "audit_logs", *where(chosen))
    condition, args = where([*chosen, (f"id {'<' if descending else '>'} {{}}", after_id)])
    order = "DESC" if descending else "ASC"
    return list(await conn.fetch(
        f"SELECT {COLUMNS} FROM audit_logs WHERE {condition} "  # noqa: S608 - FILTERS
        f"ORDER BY id {order} LIMIT {int(limit) + 1}", *args))


async def operator_list(conn: asyncpg.Connection, *, system_only: bool, since: Any,
                        action: str | None, limit: int) -> list[asyncpg.Record]:
    """The newest `limit` rows of every organisation and of the service (`system_only`: the
    service's alone), newest first, with the organisation's slug (`formula-pm audit list`;
    the system role reads them all)."""
    conditions, params = ["TRUE"], []
    if system_only:
        conditions.append("a.org_id IS NULL")
    if since is not None:
        params.append(since)
        conditions.append(f"a.at >= ${len(params)}")
    if action:
        params.append(action)
        conditions.append(f"a.action = ${len(params)}")
    params.append(limit)
    where = " AND ".join(conditions)
    return list(await conn.fetch(
        f"""SELECT a.id, a.at, a.action, o.slug AS org, a.user_id, a.table_name,
                   a.record_id, a.request_id, host(a.ip) AS ip, a.details::text AS details
            FROM audit_logs a LEFT JOIN organizations o ON o.id = a.org_id
            WHERE {where} ORDER BY a.id DESC LIMIT ${len(params)}""",  # noqa: S608 - see above
        *params))


# The export's rows: ids as text, time in epoch milliseconds, details as JSON text.
EXPORT_COLUMNS = """
a.id, a.txid::text::bigint AS txid, a.org_id::text AS org_id,
a.project_id::text AS project_id, a.table_name, a.record_id::text AS record_id,
a.action, a.changed_fields, a.user_id::text AS user_id, a.request_id,
host(a.ip) AS ip, a.user_agent, a.details::text AS details, a.bulk,
(extract(epoch FROM a.at) * 1000)::bigint AS at_ms
"""
_EXPORT = f"""
SELECT {EXPORT_COLUMNS}
FROM audit_logs a
WHERE (a.txid, a.id) > ($1::text::xid8, $2::bigint)
  AND a.txid < pg_snapshot_xmin(pg_current_snapshot())
  AND a.at >= coalesce($3::timestamptz, '-infinity')
ORDER BY a.txid, a.id
LIMIT $4
"""  # noqa: S608 - EXPORT_COLUMNS


def export_cursor(conn: asyncpg.Connection, after: tuple[int, int], since: Any,
                  limit: int, prefetch: int) -> Any:
    """Rows after the (txid, id) position `after`, at or after `since` (None: all), in
    (txid, id) order, and only those whose transactions have all finished (below the
    snapshot's xmin: nothing can still appear before them, so a reader resuming after
    the last one it got loses nothing and gets nothing twice): at most `limit`, as a
    server-side cursor (`async for`, inside a transaction). Row-level security decides
    which rows (an admin: the organisation's; the system role: all)."""
    return conn.cursor(_EXPORT, str(after[0]), after[1], since, limit, prefetch=prefetch)
