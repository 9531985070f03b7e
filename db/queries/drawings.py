"""SQL of the drawing register: drawings, their revisions, publish and supersede.

Every statement runs as the caller (row-level security: client users read published
revisions only). Publishing locks the drawing row first, so concurrent publishes of one
drawing's revisions run one after the other and leave exactly one current revision.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from db.queries.rows import PageLike, delete_row, fetch_page, update_row

DRAWING_COLUMNS = ("number", "title", "discipline", "discipline_override", "drawing_set")
REVISION_COLUMNS = ("revision", "status", "attachment_id", "file_name", "reason")
# A drawing with its current revision (NULL when none is published) as one JSON object.
WITH_CURRENT = """d.*, (SELECT to_jsonb(r) FROM drawing_revisions r
                       WHERE r.id = d.current_revision_id) AS current_revision"""


async def list_drawings(conn: asyncpg.Connection, project_id: uuid.UUID, page: PageLike,
                        filters: Mapping[str, Any]) -> list[asyncpg.Record]:
    return await fetch_page(conn, "drawings d", [
        ("d.project_id = {}", project_id),
        ("({}::boolean AND d.current_revision_id IS NOT NULL)", filters.get("current") or None),
        ("d.discipline = {}", filters.get("discipline")),
        ("d.drawing_set = {}", filters.get("drawing_set")),
    ], page, columns=WITH_CURRENT)


async def get_drawing(conn: asyncpg.Connection, drawing_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {WITH_CURRENT} FROM drawings d WHERE d.id = $1",  # noqa: S608 - constant
                               drawing_id)


async def lock_drawing(conn: asyncpg.Connection, drawing_id: uuid.UUID) -> asyncpg.Record | None:
    """The drawing row, locked until the transaction ends (publishes and new revisions of
    one drawing queue here)."""
    return await conn.fetchrow("SELECT * FROM drawings WHERE id = $1 FOR UPDATE", drawing_id)


async def numbers_taken(conn: asyncpg.Connection, project_id: uuid.UUID,
                        numbers: Sequence[str]) -> dict[str, uuid.UUID]:
    rows = await conn.fetch("SELECT number, id FROM drawings WHERE project_id = $1 "
                            "AND number = ANY ($2::text[])", project_id, list(numbers))
    return {r["number"]: r["id"] for r in rows}


async def create_drawing(conn: asyncpg.Connection, *, org_id: uuid.UUID, project_id: uuid.UUID,
                         created_by: uuid.UUID, values: Mapping[str, Any]) -> asyncpg.Record:
    columns = [c for c in DRAWING_COLUMNS if c in values]
    placeholders = "".join(f", ${i + 4}" for i in range(len(columns)))
    row = await conn.fetchrow(
        f"INSERT INTO drawings (org_id, project_id, created_by"  # noqa: S608 - DRAWING_COLUMNS
        f"{''.join(', ' + c for c in columns)}) VALUES ($1, $2, $3{placeholders}) "
        "RETURNING *, NULL::jsonb AS current_revision",
        org_id, project_id, created_by, *(values[c] for c in columns))
    assert row is not None
    return row


async def update_drawing(conn: asyncpg.Connection, drawing_id: uuid.UUID,
                         changes: Mapping[str, Any], version: int | None) -> bool:
    return await update_row(conn, "drawings", drawing_id, changes, version=version) is not None


async def delete_drawing(conn: asyncpg.Connection, drawing_id: uuid.UUID,
                         version: int | None) -> bool:
    # The drawing points at its current revision and the revisions at the drawing: clear
    # the pointer first so the cascade meets no reference.
    await conn.execute("UPDATE drawings SET current_revision_id = NULL WHERE id = $1 "
                       "AND ($2::int IS NULL OR version = $2)", drawing_id, version)
    if version is not None:
        version = await conn.fetchval("SELECT version FROM drawings WHERE id = $1", drawing_id)
    return await delete_row(conn, "drawings", drawing_id, version)


async def revisions_of(conn: asyncpg.Connection, drawing_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(await conn.fetch(
        "SELECT * FROM drawing_revisions WHERE drawing_id = $1 ORDER BY issued_at, id",
        drawing_id))


async def revision_codes(conn: asyncpg.Connection, drawing_id: uuid.UUID) -> list[str]:
    """Every revision code of the drawing, past row-level security's hiding from client
    users (only staff write revisions; the codes decide the order)."""
    return [r["revision"] for r in await conn.fetch(
        "SELECT revision FROM drawing_revisions WHERE drawing_id = $1", drawing_id)]


async def get_revision(conn: asyncpg.Connection,
                       revision_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM drawing_revisions WHERE id = $1", revision_id)


async def create_revision(conn: asyncpg.Connection, drawing: Mapping[str, Any], *,
                          issued_by: uuid.UUID, values: Mapping[str, Any]) -> asyncpg.Record:
    columns = [c for c in REVISION_COLUMNS if c in values]
    placeholders = "".join(f", ${i + 5}" for i in range(len(columns)))
    row = await conn.fetchrow(
        f"INSERT INTO drawing_revisions (org_id, project_id, drawing_id, issued_by"  # noqa: S608 - REVISION_COLUMNS
        f"{''.join(', ' + c for c in columns)}) VALUES ($1, $2, $3, $4{placeholders}) "
        "RETURNING *", drawing["org_id"], drawing["project_id"], drawing["id"], issued_by,
        *(values[c] for c in columns))
    assert row is not None
    return row


async def attachment_project(conn: asyncpg.Connection,
                             attachment_id: uuid.UUID) -> uuid.UUID | None:
    project: uuid.UUID | None = await conn.fetchval(
        "SELECT project_id FROM attachments WHERE id = $1", attachment_id)
    return project


async def attachments_of(conn: asyncpg.Connection, project_id: uuid.UUID,
                         attachment_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, asyncpg.Record]:
    rows = await conn.fetch("SELECT * FROM attachments WHERE project_id = $1 "
                            "AND id = ANY ($2::uuid[])", project_id, list(attachment_ids))
    return {r["id"]: r for r in rows}


async def supersede_current(conn: asyncpg.Connection,
                            drawing_id: uuid.UUID) -> asyncpg.Record | None:
    """The drawing's current revision, now superseded (None when it had none)."""
    return await conn.fetchrow(
        """UPDATE drawing_revisions SET is_current = false, superseded_at = clock_timestamp()
           WHERE drawing_id = $1 AND is_current RETURNING *""", drawing_id)


async def mark_published(conn: asyncpg.Connection, revision_id: uuid.UUID,
                         published_by: uuid.UUID) -> asyncpg.Record:
    row = await conn.fetchrow(
        """UPDATE drawing_revisions SET is_current = true, published_by = $2,
                  published_at = clock_timestamp()
           WHERE id = $1 RETURNING *""", revision_id, published_by)
    assert row is not None
    return row


async def set_current(conn: asyncpg.Connection, drawing_id: uuid.UUID,
                      revision_id: uuid.UUID) -> None:
    await conn.execute("UPDATE drawings SET current_revision_id = $2 WHERE id = $1",
                       drawing_id, revision_id)
