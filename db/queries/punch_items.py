"""SQL of the snag list: the next numbers of a project (the locked counter row), snags in
one statement however many a walk pins, pages of a project's snags with their photo counts,
pins carried to a drawing's next published revision, the handover counts. Runs as the
caller (client users read only the snags that are theirs: row-level security)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from db.queries.rows import PageLike, fetch_page, lock_row, update_locked

# The columns a creation writes (the code names them; values are parameters).
INSERTED = ("org_id", "project_id", "number", "title", "description", "location", "room",
            "trade", "priority", "category", "due_on", "drawing_id", "drawing_revision_id",
            "pin_x", "pin_y", "assignee_user_ids", "assignee_client_id", "manager_id",
            "final_approver_id", "created_by")
# A snag with the number of its ready photos (one index probe, for one row).
WITH_PHOTOS = """p.*, (SELECT count(*) FROM attachments a
    WHERE a.entity_id = p.id AND a.entity_type = 'punch_item' AND a.deleted_at IS NULL
      AND a.status = 'ready')::int AS photo_count"""
# The photo counts of many snags, in one statement. Lists ask it for their page's ids
# rather than run WITH_PHOTOS per row: under the attachments' row-level security the
# planner prices that subquery so high over thousands of candidate rows that PostgreSQL
# JIT-compiles the list query (some 70 ms spent compiling a 2 ms query).
PHOTO_COUNTS = """SELECT entity_id, count(*)::int AS photos FROM attachments
    WHERE entity_id = ANY ($1::uuid[]) AND entity_type = 'punch_item'
      AND deleted_at IS NULL AND status = 'ready' GROUP BY entity_id"""


async def next_numbers(conn: asyncpg.Connection, project_id: uuid.UUID, n: int = 1) -> int:
    """The first of `n` consecutive numbers of the project. Its counter row stays locked
    until the transaction ends: concurrent creators queue, and a rollback gives the numbers
    back."""
    first: int = await conn.fetchval("SELECT fpm_next_punch_number($1, $2)", project_id, n)
    return first


async def create_many(conn: asyncpg.Connection,
                      values: Sequence[Mapping[str, Any]]) -> list[asyncpg.Record]:
    """Insert the snags in one statement; their rows with photo counts, by number."""
    names = ", ".join(INSERTED)
    rows = [{k: v.get(k) for k in INSERTED} for v in values]
    for row in rows:
        row["assignee_user_ids"] = row["assignee_user_ids"] or []
    return list(await conn.fetch(
        f"""WITH created AS (
                INSERT INTO punch_items ({names})
                SELECT {names} FROM jsonb_populate_recordset(NULL::punch_items, $1::jsonb)
                RETURNING *)
            SELECT created.*, 0 AS photo_count FROM created ORDER BY number""",  # noqa: S608 - INSERTED
        rows))


async def get(conn: asyncpg.Connection, item_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {WITH_PHOTOS} FROM punch_items p WHERE p.id = $1", item_id)  # noqa: S608 - constant


async def lock(conn: asyncpg.Connection, item_id: uuid.UUID) -> asyncpg.Record | None:
    return await lock_row(conn, "punch_items", item_id)


async def lock_many(conn: asyncpg.Connection,
                    item_ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    """The visible snags of `item_ids`, locked in id order (two bulk writers never deadlock)."""
    return list(await conn.fetch(
        "SELECT * FROM punch_items WHERE id = ANY ($1::uuid[]) ORDER BY id FOR UPDATE",
        list(item_ids)))


async def update(conn: asyncpg.Connection, item_id: uuid.UUID,
                 changes: Mapping[str, Any]) -> asyncpg.Record:
    return await update_locked(conn, "punch_items", item_id, changes)


async def reassign(conn: asyncpg.Connection, item_ids: Sequence[uuid.UUID],
                   assignee_user_ids: Sequence[uuid.UUID],
                   assignee_client_id: uuid.UUID | None) -> None:
    """Give the (locked) snags new assignees, in one statement."""
    await conn.execute(
        """UPDATE punch_items SET assignee_user_ids = $2::uuid[], assignee_client_id = $3
           WHERE id = ANY ($1::uuid[])""",
        list(item_ids), list(assignee_user_ids), assignee_client_id)


async def with_photos(conn: asyncpg.Connection,
                      rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows with their `photo_count`, from one more statement whatever their number."""
    counts = {r["entity_id"]: r["photos"] for r in await conn.fetch(
        PHOTO_COUNTS, [r["id"] for r in rows])} if rows else {}
    return [{**r, "photo_count": counts.get(r["id"], 0)} for r in rows]


async def get_many(conn: asyncpg.Connection,
                   item_ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT * FROM punch_items WHERE id = ANY ($1::uuid[]) "
                            "ORDER BY project_id, number", list(item_ids))
    return await with_photos(conn, rows)


async def page(conn: asyncpg.Connection, page: PageLike, project_id: uuid.UUID,
               filters: Mapping[str, Any], open_statuses: Sequence[str],
               overdue_on: dt.date | None) -> list[dict[str, Any]]:
    """One page of a project's snags (with photo counts): of a status, a trade, a category,
    a drawing; assigned to a user (or a client company); overdue on a day (open, due before
    it)."""
    rows = await fetch_page(conn, "punch_items p", [
        ("p.project_id = {}", project_id),
        ("p.status = {}", filters.get("status")),
        ("p.trade = {}", filters.get("trade")),
        ("p.category = {}", filters.get("category")),
        ("p.drawing_id = {}", filters.get("drawing_id")),
        ("p.drawing_revision_id = {}", filters.get("drawing_revision_id")),
        ("({0} = ANY (p.assignee_user_ids) OR p.assignee_client_id = {0})",
         filters.get("assignee")),
        ("p.status = ANY ({}::text[])", list(open_statuses) if overdue_on else None),
        ("p.due_on < {}", overdue_on),
    ], page, columns="p.*")
    return await with_photos(conn, rows)


async def revision_of_project(conn: asyncpg.Connection, revision_id: uuid.UUID,
                              project_id: uuid.UUID) -> asyncpg.Record | None:
    """A visible published revision of a drawing of the project (pins go on those only)."""
    return await conn.fetchrow(
        "SELECT id, drawing_id FROM drawing_revisions WHERE id = $1 AND project_id = $2 "
        "AND published_at IS NOT NULL", revision_id, project_id)


async def carry_pins(conn: asyncpg.Connection, old_revision_id: uuid.UUID,
                     new_revision_id: uuid.UUID, closed: str) -> list[uuid.UUID]:
    """Move the pins of the open snags on the superseded revision onto the new one and flag
    them for checking (the sheet changed under them); the ids moved. A snag in `closed`
    keeps the pin of the sheet it was closed on."""
    rows = await conn.fetch(
        """UPDATE punch_items SET drawing_revision_id = $2, pin_needs_check = true
           WHERE drawing_revision_id = $1 AND status <> $3 RETURNING id""",
        old_revision_id, new_revision_id, closed)
    return [r["id"] for r in rows]


async def handover_counts(conn: asyncpg.Connection, project_id: uuid.UUID,
                          open_statuses: Sequence[str],
                          today: dt.date) -> list[asyncpg.Record]:
    """Open snags of the project by trade, category and status, with how many are overdue."""
    return list(await conn.fetch(
        """SELECT trade, category, status, count(*)::int AS open,
                  count(*) FILTER (WHERE due_on < $3)::int AS overdue
           FROM punch_items WHERE project_id = $1 AND status = ANY ($2::text[])
           GROUP BY trade, category, status""", project_id, list(open_statuses), today))


async def handover_project(conn: asyncpg.Connection,
                           project_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT id, name, status, practical_completion_on, defects_period_months,
                  (SELECT count(*) FROM punch_items p WHERE p.project_id = $1
                     AND p.status = 'closed')::int AS closed
           FROM projects WHERE id = $1""", project_id)


async def readers(conn: asyncpg.Connection, project: Mapping[str, Any],
                  user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Those of `user_ids` who can read the project (active users of the organisation:
    admins, its client's users, its manager, creator and team, as app_visible_project_ids()
    decides for each of them), with their roles."""
    rows = await conn.fetch(
        """SELECT u.id, u.role FROM users u
           WHERE u.id = ANY ($1::uuid[]) AND u.status = 'active' AND u.org_id = $2
             AND CASE WHEN u.role = 'admin' THEN true
                      WHEN u.role = 'client' THEN u.client_id = $3
                      ELSE u.id = $4 OR u.id = $5 OR EXISTS (
                          SELECT 1 FROM project_members m
                          WHERE m.project_id = $6 AND m.user_id = u.id)
                 END""",
        list(user_ids), project["org_id"], project["client_id"],
        project["project_manager_id"], project["created_by"], project["id"])
    return {r["id"]: r["role"] for r in rows}
