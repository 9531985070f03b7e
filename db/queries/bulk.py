"""Many rows of one table in one prepared statement: the legacy import and the demo seed.

Table and column names are the caller's own fixed names (`importer.plan.TABLES`,
`cli.seed.TABLES`, and the columns their planners write), never a client's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg


async def insert_rows(conn: asyncpg.Connection, table: str, columns: Sequence[str],
                      rows: Sequence[Sequence[Any]]) -> None:
    """INSERT each row (its values in `columns` order)."""
    marks = ", ".join(f"${i + 1}" for i in range(len(columns)))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 - see above
    await conn.executemany(sql, rows)


async def update_rows(conn: asyncpg.Connection, table: str, columns: Sequence[str],
                      rows: Sequence[Sequence[Any]]) -> None:
    """UPDATE `columns` of each row by id (each row: its id, then the values in `columns`
    order)."""
    sets = ", ".join(f"{col} = ${i + 2}" for i, col in enumerate(columns))
    sql = f"UPDATE {table} SET {sets} WHERE id = $1"  # noqa: S608 - see the module's docstring
    await conn.executemany(sql, rows)
