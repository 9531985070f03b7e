"""Row writes shared by the project-owned resources.

Table names are the callers' constants and column names come from validated request models
(never from raw input): hence the `noqa: S608`; every value is a `$n` parameter. Run inside
`transaction(pool, actor)`, so row-level security decides what exists: a row the actor may
not see is simply not found.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg


def _columns(values: Mapping[str, Any]) -> list[str]:
    names = list(values)
    assert all(n.isidentifier() for n in names), names
    return names


async def lock_row(conn: asyncpg.Connection, table: str,
                   record_id: uuid.UUID) -> asyncpg.Record | None:
    """The row, locked until the transaction ends (writers queue behind each other)."""
    return await conn.fetchrow(
        f"SELECT * FROM {table} WHERE id = $1 FOR UPDATE", record_id)  # noqa: S608


async def insert_row(conn: asyncpg.Connection, table: str,
                     values: Mapping[str, Any]) -> asyncpg.Record:
    names = _columns(values)
    marks = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    row = await conn.fetchrow(
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks}) RETURNING *",  # noqa: S608
        *values.values())
    assert row is not None
    return row


async def update_row(conn: asyncpg.Connection, table: str, record_id: uuid.UUID,
                     values: Mapping[str, Any]) -> asyncpg.Record:
    """Set `values` on a row already locked; an empty change leaves the version alone."""
    names = _columns(values)
    sets = ", ".join(f"{n} = ${i}" for i, n in enumerate(names, start=2)) or "id = id"
    row = await conn.fetchrow(f"UPDATE {table} SET {sets} WHERE id = $1 RETURNING *",  # noqa: S608
                              record_id, *values.values())
    assert row is not None
    return row


async def delete_row(conn: asyncpg.Connection, table: str, record_id: uuid.UUID) -> None:
    await conn.execute(f"DELETE FROM {table} WHERE id = $1", record_id)  # noqa: S608


async def list_rows(conn: asyncpg.Connection, select_sql: str, where: str, args: list[Any],
                    order: str, limit: int) -> list[asyncpg.Record]:
    """One keyset page: `limit + 1` rows so the caller knows whether there is more."""
    sql = f"{select_sql} WHERE {where} ORDER BY {order} LIMIT ${len(args) + 1}"
    return list(await conn.fetch(sql, *args, limit + 1))
