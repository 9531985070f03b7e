"""SQL of RFIs: the next number of a project (the locked counter row), RFIs with their
responses. Runs as the caller (client users read only RFIs that name them)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

from db.queries.rows import PageLike, fetch_page, insert_row, lock_row, update_locked

WITH_RESPONSES = """r.*, coalesce((
    SELECT jsonb_agg(to_jsonb(x) ORDER BY x.created_at, x.id)
    FROM rfi_responses x WHERE x.rfi_id = r.id), '[]'::jsonb) AS responses"""


async def next_seq(conn: asyncpg.Connection, project_id: uuid.UUID) -> int:
    """The project's next RFI number. Its counter row stays locked until the transaction
    ends: concurrent creators queue, and a rollback gives the number back."""
    seq: int = await conn.fetchval("SELECT fpm_next_rfi_seq($1)", project_id)
    return seq


async def create(conn: asyncpg.Connection, values: Mapping[str, Any]) -> asyncpg.Record:
    return await insert_row(conn, "rfis", values)


async def get(conn: asyncpg.Connection, rfi_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {WITH_RESPONSES} FROM rfis r WHERE r.id = $1", rfi_id)  # noqa: S608 - constant


async def lock(conn: asyncpg.Connection, rfi_id: uuid.UUID) -> asyncpg.Record | None:
    return await lock_row(conn, "rfis", rfi_id)


async def update(conn: asyncpg.Connection, rfi_id: uuid.UUID,
                 changes: Mapping[str, Any]) -> asyncpg.Record:
    return await update_locked(conn, "rfis", rfi_id, changes)


async def add_response(conn: asyncpg.Connection, values: Mapping[str, Any]) -> asyncpg.Record:
    return await insert_row(conn, "rfi_responses", values)


async def response(conn: asyncpg.Connection, rfi_id: uuid.UUID,
                   response_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM rfi_responses WHERE id = $1 AND rfi_id = $2",
                               response_id, rfi_id)


async def set_official(conn: asyncpg.Connection, rfi_id: uuid.UUID,
                       response_id: uuid.UUID) -> None:
    """Mark one response official, and no other of the RFI."""
    for row in await conn.fetch(
            "SELECT id FROM rfi_responses WHERE rfi_id = $1 AND official AND id <> $2",
            rfi_id, response_id):
        await update_locked(conn, "rfi_responses", row["id"], {"official": False})
    await update_locked(conn, "rfi_responses", response_id, {"official": True})


async def page(conn: asyncpg.Connection, page: PageLike, project_id: uuid.UUID,
               status: str | None, overdue_on: dt.date | None,
               ball_in_court: uuid.UUID | None) -> list[asyncpg.Record]:
    """One page of a project's RFIs: of a status; overdue on a day (open, due before it);
    with the ball in a user's court (open and on their distribution list, or answered and
    theirs to close)."""
    return await fetch_page(conn, "rfis r", [
        ("r.project_id = {}", project_id),
        ("r.status = {}", status),
        ("r.status = 'open' AND r.due_on < {}", overdue_on),
        ("((r.status = 'open' AND {0} = ANY (r.distribution))"
         " OR (r.status = 'answered' AND r.created_by = {0}))", ball_in_court),
    ], page, columns=WITH_RESPONSES)


# The records an RFI may link to, by the field that names them.
LINKED = {"drawing_ids": "drawings", "revision_ids": "drawing_revisions",
          "scope_item_ids": "scope_items"}


async def unknown_links(conn: asyncpg.Connection, field: str, ids: list[uuid.UUID],
                        project_id: uuid.UUID) -> list[uuid.UUID]:
    """Those of `ids` that are not visible records of the project (`field` a key of LINKED)."""
    found = {r["id"] for r in await conn.fetch(
        f"SELECT id FROM {LINKED[field]} WHERE id = ANY ($1::uuid[]) "  # noqa: S608 - LINKED
        "AND project_id = $2", ids, project_id)}
    return [i for i in ids if i not in found]
