"""What the legacy import reads of an organisation before it plans (the system role, in
the import's own transaction), and the admin it acts as."""

from __future__ import annotations

import uuid

import asyncpg

# The tables whose rows carry the legacy system's id.
LEGACY_TABLES = ("clients", "users", "projects", "scope_items", "tasks", "shop_drawings",
                 "material_specs")
# The imported tables whose rows are found by a natural key instead.
NATURAL_KEY_TABLES = ("project_members", "scope_groups", "shop_drawing_revisions")


async def legacy_rows(conn: asyncpg.Connection, table: str,
                      org_id: uuid.UUID) -> list[asyncpg.Record]:
    """The organisation's rows of one of LEGACY_TABLES that came from the legacy system."""
    if table not in LEGACY_TABLES:
        raise ValueError(f"not a legacy table: {table}")
    return list(await conn.fetch(
        f"SELECT * FROM {table} WHERE org_id = $1 "  # noqa: S608 - LEGACY_TABLES
        "AND legacy_id IS NOT NULL", org_id))


async def org_rows(conn: asyncpg.Connection, table: str,
                   org_id: uuid.UUID) -> list[asyncpg.Record]:
    """Every row of the organisation in one of NATURAL_KEY_TABLES."""
    if table not in NATURAL_KEY_TABLES:
        raise ValueError(f"not a natural-key table: {table}")
    return list(await conn.fetch(
        f"SELECT * FROM {table} WHERE org_id = $1", org_id))  # noqa: S608 - NATURAL_KEY_TABLES


async def item_links(conn: asyncpg.Connection, org_id: uuid.UUID) -> list[asyncpg.Record]:
    """The organisation's scope item links, each with its `target` (task, drawing or spec)."""
    return list(await conn.fetch(
        """SELECT *, coalesce(task_id, shop_drawing_id, material_spec_id) AS target
           FROM item_links WHERE org_id = $1""", org_id))


async def users_by_email(conn: asyncpg.Connection, emails: list[str]) -> list[asyncpg.Record]:
    """The users with these addresses (case-insensitive) in any organisation."""
    return list(await conn.fetch(
        "SELECT * FROM users WHERE lower(email) = ANY($1::text[])", [e.lower() for e in emails]))


async def drawing_numbers(conn: asyncpg.Connection,
                          org_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(await conn.fetch(
        "SELECT id, project_id, drawing_number FROM shop_drawings WHERE org_id = $1", org_id))


async def scope_codes(conn: asyncpg.Connection, org_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(await conn.fetch(
        "SELECT id, project_id, code FROM scope_items WHERE org_id = $1 AND code IS NOT NULL",
        org_id))


async def first_admin(conn: asyncpg.Connection, org_id: uuid.UUID,
                      email: str | None) -> asyncpg.Record | None:
    """The organisation's oldest admin (`id`, `email`), or the admin with this address."""
    return await conn.fetchrow(
        """SELECT id, email FROM users WHERE org_id = $1 AND role = 'admin'
             AND ($2::text IS NULL OR lower(email) = lower($2))
           ORDER BY created_at, id LIMIT 1""", org_id, email)
