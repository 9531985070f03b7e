"""SQL of scope groups, the sections of a project's bill of works."""

from __future__ import annotations

import uuid

import asyncpg

from db.queries.rows import PageLike, fetch_page, get_row


async def list_scope_groups(conn: asyncpg.Connection, page: PageLike, *,
                            project_id: uuid.UUID | None) -> list[asyncpg.Record]:
    return await fetch_page(conn, "scope_groups", [("project_id = {}", project_id)], page)


async def get_scope_group(conn: asyncpg.Connection,
                          group_id: uuid.UUID) -> asyncpg.Record | None:
    return await get_row(conn, "scope_groups", group_id)


async def count_items(conn: asyncpg.Connection, group_id: uuid.UUID) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM scope_items WHERE scope_group_id = $1", group_id)
    return count
