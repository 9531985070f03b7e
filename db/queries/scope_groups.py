"""SQL of scope groups, the sections of a project's bill of works."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from db.queries.project_rows import list_rows

SELECT = "SELECT * FROM scope_groups"


async def list_scope_groups(conn: asyncpg.Connection, where: str, args: list[Any], order: str,
                            limit: int) -> list[asyncpg.Record]:
    return await list_rows(conn, SELECT, where, args, order, limit)


async def get_scope_group(conn: asyncpg.Connection,
                          group_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{SELECT} WHERE id = $1", group_id)


async def count_items(conn: asyncpg.Connection, group_id: uuid.UUID) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM scope_items WHERE scope_group_id = $1", group_id)
    return count
