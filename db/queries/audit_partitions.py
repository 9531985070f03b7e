"""The audit log's monthly partitions (migration 0024): created ahead and dropped whole by
the owner's definer functions, which the change leader (the system role) calls; the rows
of a partition read, for its export, before it goes; and where each chain was cut."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import asyncpg

from db.queries.audit import EXPORT_COLUMNS

# Monthly partitions (not the default one) whose whole month is older than the months
# kept, oldest first, with the first instant of their month (UTC).
_EXPIRED = """
SELECT c.relname AS name,
       to_date(substr(c.relname, 13), 'YYYYMM')::timestamp AT TIME ZONE 'UTC' AS starts
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'audit_logs'::regclass AND c.relname ~ '^audit_logs_p[0-9]{6}$'
  AND to_date(substr(c.relname, 13), 'YYYYMM') + interval '1 month'
      <= date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => $1)
ORDER BY c.relname
"""

# One month's rows through the parent (pruned to that month's partition), in chain order.
_MONTH_ROWS = f"""
SELECT {EXPORT_COLUMNS} FROM audit_logs a
WHERE a.at >= $1 AND a.at < $1 + interval '1 month'
ORDER BY a.txid, a.id
"""  # noqa: S608 - EXPORT_COLUMNS


async def create_ahead(conn: asyncpg.Connection, months: int) -> int:
    """This month's partition and the next `months`' (those missing); how many made."""
    return int(await conn.fetchval("SELECT fpm_audit_partitions_ahead($1)", months))


async def expired(conn: asyncpg.Connection, keep_months: int) -> list[asyncpg.Record]:
    return list(await conn.fetch(_EXPIRED, keep_months))


async def month_pages(conn: asyncpg.Connection, starts: dt.datetime,
                      size: int) -> AsyncIterator[list[asyncpg.Record]]:
    """A month's rows in (txid, id) order, `size` at a time, through a server-side cursor
    (the caller holds the transaction)."""
    cursor = await conn.cursor(_MONTH_ROWS, starts)
    while page := await cursor.fetch(size):
        yield page


async def drop(conn: asyncpg.Connection, name: str, keep_months: int) -> int:
    """Detach and drop one expired partition (recording where each chain was cut); the
    rows it held."""
    return int(await conn.fetchval("SELECT fpm_audit_drop_partition($1, $2)", name,
                                   keep_months))


async def partitions(conn: asyncpg.Connection) -> list[str]:
    """The names of the audit log's partitions, in order."""
    rows = await conn.fetch(
        """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'audit_logs'::regclass ORDER BY c.relname""")
    return [r["relname"] for r in rows]


async def retained(conn: asyncpg.Connection, chain: str) -> tuple[int, bytes, int] | None:
    """Where retention cut the chain: the last dropped link's (seq, hash) and how many
    rows of it were dropped in all; None when none were."""
    row = await conn.fetchrow(
        """SELECT through_seq, through_hash, sum(rows) OVER () AS rows
           FROM audit_retention WHERE chain = $1
           ORDER BY through_seq DESC LIMIT 1""", chain)
    if row is None:
        return None
    return int(row["through_seq"]), bytes(row["through_hash"]), int(row["rows"])
