"""SQL of scope items, the lines of a project's bill of works."""

from __future__ import annotations

import uuid

import asyncpg

from db.queries.rows import Records

SCOPE_ITEMS = Records("scope_items",
                      filters=("project_id", "scope_group_id", "status", "category"))
list_scope_items = SCOPE_ITEMS.page
get_scope_item = SCOPE_ITEMS.one


async def group_project(conn: asyncpg.Connection, group_id: uuid.UUID) -> uuid.UUID | None:
    """The project of a scope group the actor can see, or None."""
    project: uuid.UUID | None = await conn.fetchval(
        "SELECT project_id FROM scope_groups WHERE id = $1", group_id)
    return project
