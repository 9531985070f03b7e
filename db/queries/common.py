"""Guarded writes shared by the resource queries: UPDATE/DELETE with an optional version."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Protocol

import asyncpg


def set_clause(changes: Mapping[str, Any], first_param: int,
               raw: Mapping[str, str] | None = None) -> tuple[str, list[Any]]:
    """`col = $n, ...` for the changed columns (names come from models, never from users),
    plus `raw` SQL assignments; `id = id` when nothing changes."""
    parts = [f"{column} = ${first_param + i}" for i, column in enumerate(changes)]
    parts += [f"{column} = {sql}" for column, sql in (raw or {}).items()]
    return ", ".join(parts) or "id = id", list(changes.values())


async def update_row(conn: asyncpg.Connection, table: str, record_id: uuid.UUID,
                     changes: Mapping[str, Any], version: int | None,
                     raw: Mapping[str, str] | None = None) -> asyncpg.Record | None:
    """UPDATE one visible row when its version matches (or none is given); None otherwise."""
    sets, args = set_clause(changes, 3, raw)
    guard = "id = $1 AND ($2::int IS NULL OR version = $2)"
    # The table and columns are the resource modules' own (TABLE, COLUMNS).
    return await conn.fetchrow(f"UPDATE {table} SET {sets} WHERE {guard} RETURNING *",  # noqa: S608
                               record_id, version, *args)


async def current_version(conn: asyncpg.Connection, table: str,
                          record_id: uuid.UUID) -> int | None:
    """The version of one visible row; None when there is none."""
    version: int | None = await conn.fetchval(
        f"SELECT version FROM {table} WHERE id = $1", record_id)  # noqa: S608 - callers' table
    return version


async def delete_row(conn: asyncpg.Connection, table: str, record_id: uuid.UUID,
                     version: int | None) -> bool:
    """DELETE one visible row when its version matches (or none is given)."""
    guard = "id = $1 AND ($2::int IS NULL OR version = $2)"
    deleted = await conn.fetchval(
        f"DELETE FROM {table} WHERE {guard} RETURNING id",  # noqa: S608 - callers' table
        record_id, version)
    return deleted is not None


class SortLike(Protocol):
    @property
    def sql(self) -> str: ...


class PageLike(Protocol):
    """What a list query needs of `server.rest.Keyset` (db does not import server)."""

    @property
    def key(self) -> SortLike: ...

    @property
    def order_sql(self) -> str: ...

    @property
    def limit(self) -> int: ...

    def where(self, first_param: int) -> tuple[str, list[Any]]: ...


async def fetch_page(conn: asyncpg.Connection, columns: str, source: str,
                     conditions: list[str], args: list[Any],
                     page: PageLike) -> list[asyncpg.Record]:
    """One page: `SELECT columns, <sort> AS _sort FROM source WHERE conditions AND after
    cursor ORDER BY ... LIMIT limit + 1`; `conditions` use $1..$len(args)."""
    after, after_args = page.where(len(args) + 1)
    where = " AND ".join([*conditions, after])
    # Columns, source and conditions are the callers' SQL; the sort key one of SORTABLE.
    sql = (f"SELECT {columns}, {page.key.sql} AS _sort FROM {source} WHERE {where} "  # noqa: S608
           f"ORDER BY {page.order_sql} LIMIT {int(page.limit) + 1}")
    return list(await conn.fetch(sql, *args, *after_args))
