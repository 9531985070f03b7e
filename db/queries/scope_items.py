"""SQL of scope items, the lines of a project's bill of works."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from db.queries.project_rows import list_rows

SELECT = "SELECT * FROM scope_items"


async def list_scope_items(conn: asyncpg.Connection, where: str, args: list[Any], order: str,
                           limit: int) -> list[asyncpg.Record]:
    return await list_rows(conn, SELECT, where, args, order, limit)


async def get_scope_item(conn: asyncpg.Connection, item_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{SELECT} WHERE id = $1", item_id)


async def group_project(conn: asyncpg.Connection, group_id: uuid.UUID) -> uuid.UUID | None:
    """The project of a scope group the actor can see, or None."""
    project: uuid.UUID | None = await conn.fetchval(
        "SELECT project_id FROM scope_groups WHERE id = $1", group_id)
    return project
