"""Row reads and writes every resource's queries share: a resource's `Records` (filtered
keyset pages and one row by id), insert, a guarded update or delete (with an optional
expected version), a row lock.

Table and column names come from the code and from validated request models (never from
raw input: hence the `noqa: S608`); every value is a `$n` parameter. Run inside
`transaction(pool, actor)`, so row-level security decides what exists: a row the actor may
not see is simply not found.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg

# One visible row, at the expected version when one is given.
_GUARD = "id = $1 AND ($2::int IS NULL OR version = $2)"
# A list condition: SQL with one `{}` where its parameter goes, and the value (the
# condition is left out when the value is None).
Filter = tuple[str, Any]


def _columns(values: Mapping[str, Any]) -> list[str]:
    names = list(values)
    assert all(n.isidentifier() for n in names), names
    return names


# --- one row -------------------------------------------------------------------------------

async def version_of(conn: asyncpg.Connection, table: str, record_id: uuid.UUID) -> int | None:
    """The row's version, or None when the actor cannot see the row."""
    version: int | None = await conn.fetchval(
        f"SELECT version FROM {table} WHERE id = $1", record_id)  # noqa: S608 - see above
    return version


async def lock_row(conn: asyncpg.Connection, table: str,
                   record_id: uuid.UUID) -> asyncpg.Record | None:
    """The row, locked until the transaction ends (writers queue behind each other)."""
    return await conn.fetchrow(
        f"SELECT * FROM {table} WHERE id = $1 FOR UPDATE", record_id)  # noqa: S608 - see above


# --- writes --------------------------------------------------------------------------------

async def insert_row(conn: asyncpg.Connection, table: str,
                     values: Mapping[str, Any]) -> asyncpg.Record:
    names = _columns(values)
    marks = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    row = await conn.fetchrow(
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks}) RETURNING *",  # noqa: S608
        *values.values())
    assert row is not None
    return row


def set_clause(changes: Mapping[str, Any], first_param: int,
               raw: Mapping[str, str] | None = None) -> tuple[str, list[Any]]:
    """`col = $n, ...` for the changed columns, plus `raw` SQL assignments; `id = id` when
    nothing changes (the row is still returned, its version left alone)."""
    parts = [f"{column} = ${i}" for i, column in enumerate(_columns(changes), first_param)]
    parts += [f"{column} = {sql}" for column, sql in (raw or {}).items()]
    return ", ".join(parts) or "id = id", list(changes.values())


async def update_row(conn: asyncpg.Connection, table: str, record_id: uuid.UUID,
                     changes: Mapping[str, Any], *, version: int | None = None,
                     raw: Mapping[str, str] | None = None,
                     returning: str = "*") -> asyncpg.Record | None:
    """UPDATE one visible row when its version matches (or none is given); None otherwise."""
    sets, args = set_clause(changes, 3, raw)
    return await conn.fetchrow(
        f"UPDATE {table} SET {sets} WHERE {_GUARD} RETURNING {returning}",  # noqa: S608
        record_id, version, *args)


async def update_locked(conn: asyncpg.Connection, table: str, record_id: uuid.UUID,
                        changes: Mapping[str, Any]) -> asyncpg.Record:
    """Set `changes` on a row this transaction has locked (`lock_row`)."""
    row = await update_row(conn, table, record_id, changes)
    assert row is not None
    return row


async def delete_row(conn: asyncpg.Connection, table: str, record_id: uuid.UUID,
                     version: int | None = None) -> bool:
    """DELETE one visible row when its version matches (or none is given)."""
    deleted = await conn.fetchval(
        f"DELETE FROM {table} WHERE {_GUARD} RETURNING id",  # noqa: S608 - see above
        record_id, version)
    return deleted is not None


# --- lists ---------------------------------------------------------------------------------

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


def equal_to(values: Mapping[str, Any], columns: Sequence[str]) -> list[Filter]:
    """`column = value` filters on `columns` (named by the code; `values` come from the
    request, and a column it leaves out or sets to None does not filter)."""
    return [(f"{column} = {{}}", values.get(column)) for column in columns]


def where(filters: Sequence[Filter], page: PageLike | None = None) -> tuple[str, list[Any]]:
    """AND of the filters whose value is not None (each `{}` numbered `$1`, `$2`...), then
    the page's `after the cursor` condition; `TRUE` when nothing limits the rows."""
    parts: list[str] = []
    args: list[Any] = []
    for sql, value in filters:
        if value is None:
            continue
        args.append(value)
        parts.append(sql.format(f"${len(args)}"))
    if page is not None:
        after, after_args = page.where(len(args) + 1)
        parts.append(after)
        args += after_args
    return " AND ".join(parts) or "TRUE", args


class RowCount:
    """Asks the next list query of the current task to count, before reading its page, every
    row it lists (the same source and filters, without cursor or limit), in the same
    transaction: a background export knows its total from the start (server/exports)."""

    def __init__(self) -> None:
        self.total: int | None = None

    async def take(self, conn: asyncpg.Connection, source: str, condition: str,
                   args: Sequence[Any]) -> None:
        if self.total is None:
            self.total = int(await conn.fetchval(
                f"SELECT count(*) FROM {source} WHERE {condition}", *args))  # noqa: S608


# Set (server/exports/kinds.py) around one replay of a list handler to count the list.
COUNTING: contextvars.ContextVar[RowCount | None] = contextvars.ContextVar(
    "counting", default=None)


async def count_if_asked(conn: asyncpg.Connection, source: str, condition: str,
                         args: Sequence[Any]) -> None:
    """The rows of `source WHERE condition` into the current `COUNTING`, if any."""
    counting = COUNTING.get()
    if counting is not None:
        await counting.take(conn, source, condition, args)


async def fetch_page(conn: asyncpg.Connection, source: str, filters: Sequence[Filter],
                     page: PageLike, *, columns: str = "*") -> list[asyncpg.Record]:
    """One keyset page: `SELECT columns, <sort> AS _sort FROM source WHERE filters AND after
    cursor ORDER BY ... LIMIT limit + 1` (one more row tells the caller there is more)."""
    if COUNTING.get() is not None:
        await count_if_asked(conn, source, *where(filters))
    condition, args = where(filters, page)
    # The sort key is one of the resource's SORTABLE; the rest as above.
    sql = (f"SELECT {columns}, {page.key.sql} AS _sort FROM {source} WHERE {condition} "  # noqa: S608
           f"ORDER BY {page.order_sql} LIMIT {int(page.limit) + 1}")
    return list(await conn.fetch(sql, *args))


@dataclass(frozen=True)
class Records:
    """What a resource lists and reads by id, declared once: its table (or the table and
    computed columns), and the columns a list filters on by equality."""

    source: str  # `tasks`, or `shop_drawings d` with `columns` naming `d.*` and more
    filters: tuple[str, ...] = ()
    columns: str = "*"
    key: str = "id"  # the id column as `source` names it (`d.id`)

    async def page(self, conn: asyncpg.Connection, page: PageLike,
                   values: Mapping[str, Any]) -> list[asyncpg.Record]:
        """One keyset page of the rows whose filter columns equal `values` (a column
        `values` leaves out or sets to None does not filter)."""
        return await fetch_page(conn, self.source, equal_to(values, self.filters), page,
                                columns=self.columns)

    async def one(self, conn: asyncpg.Connection,
                  record_id: uuid.UUID) -> asyncpg.Record | None:
        """The row with this id, or None when the actor cannot see it."""
        return await conn.fetchrow(
            f"SELECT {self.columns} FROM {self.source} WHERE {self.key} = $1",  # noqa: S608
            record_id)
