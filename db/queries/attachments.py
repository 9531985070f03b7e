"""Attachments: the record of a file in storage. Which entity a file may hang off (one
table per entity type, here and nowhere else), the organisation's stored bytes for its
quota, the upload's life (pending -> ready), soft deletion, and the sweep's questions.

Reads and writes run as the request's actor, so row-level security decides what exists;
the sweep and the quota run as the system role (they count and clean across projects)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import asyncpg

from db.queries.locks import hold_for_transaction
from db.queries.rows import Filter, PageLike, equal_to, fetch_page, insert_row

# entity_type -> its table. An entity is checked by id and project through row-level
# security (a file can only hang off what the uploader can read).
ENTITY_TABLES: Mapping[str, str] = {
    "project": "projects",
    "task": "tasks",
    "scope_item": "scope_items",
    "shop_drawing": "shop_drawings",
    "material_spec": "material_specs",
    "comment": "comments",
    "drawing_revision": "drawing_revisions",
    "punch_item": "punch_items",
    "site_diary": "site_diaries",
    "review_task": "review_tasks",
}
# Columns never shown to API clients: where the bytes are and the upload's storage id.
PRIVATE_COLUMNS = ("storage_key", "upload_id")
FILTERS = ("entity_type", "entity_id", "status", "revision")
# Deleted rows wait for the sweep; no list shows them (a condition with a constant value,
# as the list filters take one).
LIVE: Filter = ("deleted_at IS NULL AND {}::boolean", True)


async def find_entity(conn: asyncpg.Connection, entity_type: str, entity_id: uuid.UUID,
                      project_id: uuid.UUID) -> asyncpg.Record | None:
    """The entity as the actor sees it, when it belongs to `project_id`: its id and, for
    a shop drawing, its current revision label; None when there is no such entity."""
    table = ENTITY_TABLES[entity_type]
    project_column = "id" if table == "projects" else "project_id"
    revision = "revision" if table == "shop_drawings" else "NULL::text"
    return await conn.fetchrow(
        f"SELECT id, {revision} AS revision FROM {table} "  # noqa: S608 - names from ENTITY_TABLES
        f"WHERE id = $1 AND {project_column} = $2", entity_id, project_id)


async def entity_visible(conn: asyncpg.Connection, entity_type: str,
                         entity_id: uuid.UUID) -> bool:
    """Whether the actor can see the entity (in any project)."""
    table = ENTITY_TABLES[entity_type]
    return bool(await conn.fetchval(
        f"SELECT true FROM {table} WHERE id = $1", entity_id))  # noqa: S608 - a known table


async def ready_files_of(conn: asyncpg.Connection, entity_type: str, entity_id: uuid.UUID,
                         ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `ids` that are completed, undeleted files of the entity."""
    return {r["id"] for r in await conn.fetch(
        "SELECT id FROM attachments WHERE id = ANY ($1::uuid[]) AND entity_type = $2 "
        "AND entity_id = $3 AND status = 'ready' AND deleted_at IS NULL",
        ids, entity_type, entity_id)}


async def lock_org_quota(conn: asyncpg.Connection, org_id: uuid.UUID) -> None:
    """Serialise new uploads of one organisation until the transaction ends (two uploads
    that each fit may not pass the quota together)."""
    await hold_for_transaction(conn, f"attachments-quota:{org_id}")


async def org_bytes(conn: asyncpg.Connection, org_id: uuid.UUID) -> int:
    """Bytes the organisation's attachments hold or are about to (ready and pending, not
    deleted). Run as the system role: the quota counts every project."""
    used: int = await conn.fetchval(
        "SELECT coalesce(sum(size), 0)::bigint FROM attachments "
        "WHERE org_id = $1 AND deleted_at IS NULL",
        org_id)
    return used


async def create(conn: asyncpg.Connection, values: Mapping[str, Any]) -> asyncpg.Record:
    return await insert_row(conn, "attachments", values)


async def get(conn: asyncpg.Connection, attachment_id: uuid.UUID, *,
              lock: bool = False) -> asyncpg.Record | None:
    """A live (not deleted) attachment the actor can see."""
    sql = "SELECT * FROM attachments WHERE id = $1 AND deleted_at IS NULL"
    return await conn.fetchrow(sql + (" FOR UPDATE" if lock else ""), attachment_id)


async def update(conn: asyncpg.Connection, attachment_id: uuid.UUID,
                 changes: Mapping[str, Any], raw: Mapping[str, str] | None = None
                 ) -> asyncpg.Record | None:
    names = list(changes)
    assert all(n.isidentifier() for n in names), names
    sets = [f"{name} = ${i}" for i, name in enumerate(names, 2)]
    sets += [f"{name} = {sql}" for name, sql in (raw or {}).items()]
    return await conn.fetchrow(
        f"UPDATE attachments SET {', '.join(sets)} "  # noqa: S608 - identifiers of the code
        "WHERE id = $1 AND deleted_at IS NULL RETURNING *",
        attachment_id, *changes.values())


async def soft_delete(conn: asyncpg.Connection, attachment_id: uuid.UUID,
                      version: int | None) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "UPDATE attachments SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL "
        "AND ($2::int IS NULL OR version = $2) RETURNING *", attachment_id, version)


async def list_for_entity(conn: asyncpg.Connection, page: PageLike,
                          values: Mapping[str, Any]) -> list[asyncpg.Record]:
    """One keyset page of an entity's live attachments (`values`: entity_type, entity_id,
    and optionally status and revision)."""
    return await fetch_page(conn, "attachments", [LIVE, *equal_to(values, FILTERS)], page)


# --- the sweep (system role) ---------------------------------------------------------------

async def deleted(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Soft-deleted attachments whose objects are still to be removed, oldest first."""
    return list(await conn.fetch(
        "SELECT id, org_id, storage_key, upload_id, size FROM attachments "
        "WHERE deleted_at IS NOT NULL ORDER BY deleted_at LIMIT $1", limit))


async def expired_pending(conn: asyncpg.Connection, older_than: timedelta,
                          limit: int) -> list[asyncpg.Record]:
    """Uploads started longer ago than `older_than` and never completed."""
    return list(await conn.fetch(
        "SELECT id, org_id, storage_key, upload_id, size FROM attachments "
        "WHERE status = 'pending' AND deleted_at IS NULL AND created_at < now() - $1::interval "
        "ORDER BY created_at LIMIT $2", older_than, limit))


async def purge(conn: asyncpg.Connection, ids: Sequence[uuid.UUID]) -> int:
    """Remove the rows of attachments whose objects are gone."""
    result = await conn.execute("DELETE FROM attachments WHERE id = ANY($1::uuid[])", list(ids))
    return int(result.split()[-1])


async def without_thumbnail(conn: asyncpg.Connection, org_ids: Sequence[uuid.UUID] | None,
                            limit: int) -> list[asyncpg.Record]:
    """Ready attachments whose thumbnail was never rendered (a full queue, a restart)."""
    return list(await conn.fetch(
        "SELECT id, storage_key, mime_type, file_name FROM attachments "
        "WHERE status = 'ready' AND thumbnail IS NULL AND deleted_at IS NULL "
        "AND ($1::uuid[] IS NULL OR org_id = ANY($1::uuid[])) "
        "ORDER BY completed_at LIMIT $2", org_ids, limit))


async def set_thumbnail(conn: asyncpg.Connection, storage_key: str, state: str) -> None:
    await conn.execute(
        "UPDATE attachments SET thumbnail = $2 WHERE storage_key = $1 AND deleted_at IS NULL "
        "AND thumbnail IS DISTINCT FROM $2", storage_key, state)
