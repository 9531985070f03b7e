"""Organisations: found by slug, created by the first admin, and what one holds (its row
counts for its admin, the ids of its rows for a cache flush). The system role reads them."""

from __future__ import annotations

import uuid

import asyncpg

from db.tables import AUDITED_TABLES, ORG_TABLES, PROJECT_TABLES

# Rows counted per table for the organisation's admin: every org-wide and project table
# (each has org_id) but the organisation itself, and mentions, which the page has never
# counted.
COUNTED = tuple(t for t in AUDITED_TABLES if t in ORG_TABLES | PROJECT_TABLES
                and t not in ("organizations", "mentions"))
_COUNTS = " UNION ALL ".join(
    f"SELECT '{t}' AS resource, count(*) AS n FROM {t} WHERE org_id = $1"  # noqa: S608 - COUNTED
    for t in COUNTED)


async def id_by_slug(conn: asyncpg.Connection, slug: str) -> uuid.UUID | None:
    org_id: uuid.UUID | None = await conn.fetchval(
        "SELECT id FROM organizations WHERE slug = $1", slug)
    return org_id


async def create(conn: asyncpg.Connection, name: str, slug: str) -> uuid.UUID:
    org_id: uuid.UUID = await conn.fetchval(
        "INSERT INTO organizations (name, slug) VALUES ($1, $2) RETURNING id", name, slug)
    return org_id


async def row_counts(conn: asyncpg.Connection, org_id: uuid.UUID) -> dict[str, int]:
    """Rows of each COUNTED table in the organisation."""
    return {r["resource"]: int(r["n"]) for r in await conn.fetch(_COUNTS, org_id)}


async def project_ids(conn: asyncpg.Connection, org_id: uuid.UUID) -> list[uuid.UUID]:
    return [r["id"] for r in await conn.fetch(
        "SELECT id FROM projects WHERE org_id = $1", org_id)]


async def row_ids(conn: asyncpg.Connection, table: str, org_id: uuid.UUID) -> list[uuid.UUID]:
    """The ids of the organisation's rows in `table` (a table of db.schema with org_id)."""
    return [r["id"] for r in await conn.fetch(
        f"SELECT id FROM {table} WHERE org_id = $1", org_id)]  # noqa: S608 - a db.schema table
