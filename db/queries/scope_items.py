"""SQL of scope items, the lines of a project's bill of works."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

from db.queries.rows import PageLike, equal_to, fetch_page, get_row

FILTERS = ("project_id", "scope_group_id", "status", "category")


async def list_scope_items(conn: asyncpg.Connection, page: PageLike,
                           filters: Mapping[str, Any]) -> list[asyncpg.Record]:
    return await fetch_page(conn, "scope_items",
                            equal_to(filters, FILTERS), page)


async def get_scope_item(conn: asyncpg.Connection, item_id: uuid.UUID) -> asyncpg.Record | None:
    return await get_row(conn, "scope_items", item_id)


async def group_project(conn: asyncpg.Connection, group_id: uuid.UUID) -> uuid.UUID | None:
    """The project of a scope group the actor can see, or None."""
    project: uuid.UUID | None = await conn.fetchval(
        "SELECT project_id FROM scope_groups WHERE id = $1", group_id)
    return project
