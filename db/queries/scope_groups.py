"""SQL of scope groups, the sections of a project's bill of works."""

from __future__ import annotations

import uuid

import asyncpg

from db.queries.rows import Records

SCOPE_GROUPS = Records("scope_groups", filters=("project_id",))
list_scope_groups = SCOPE_GROUPS.page
get_scope_group = SCOPE_GROUPS.one


async def count_items(conn: asyncpg.Connection, group_id: uuid.UUID) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM scope_items WHERE scope_group_id = $1", group_id)
    return count
