"""SQL of transmittals: what was issued to whom, acknowledgements, and who must hear of a
supersession. Runs as the caller (client users read only their own transmittals)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

from db.queries.rows import PageLike, fetch_page

# A transmittal with its recipients (user, acknowledged_at) as a JSON array.
WITH_RECIPIENTS = """t.*, coalesce((
    SELECT jsonb_agg(jsonb_build_object('user_id', r.user_id,
                                        'acknowledged_at', r.acknowledged_at)
                     ORDER BY r.created_at, r.user_id)
    FROM transmittal_recipients r WHERE r.transmittal_id = t.id), '[]'::jsonb) AS recipients"""


async def readers_of(conn: asyncpg.Connection, project: asyncpg.Record,
                     user_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `user_ids` who can read the project (active users of the organisation:
    admins, its client's users, its manager, creator and team), as
    app_visible_project_ids() decides for each of them."""
    rows = await conn.fetch(
        """SELECT u.id FROM users u
           WHERE u.id = ANY ($1::uuid[]) AND u.status = 'active' AND u.org_id = $2
             AND CASE WHEN u.role = 'admin' THEN true
                      WHEN u.role = 'client' THEN u.client_id = $3
                      ELSE u.id = $4 OR u.id = $5 OR EXISTS (
                          SELECT 1 FROM project_members m
                          WHERE m.project_id = $6 AND m.user_id = u.id)
                 END""",
        list(user_ids), project["org_id"], project["client_id"],
        project["project_manager_id"], project["created_by"], project["id"])
    return {r["id"] for r in rows}


async def client_users(conn: asyncpg.Connection, user_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    rows = await conn.fetch("SELECT id FROM users WHERE id = ANY ($1::uuid[]) "
                            "AND role = 'client'", list(user_ids))
    return {r["id"] for r in rows}


async def revisions_in(conn: asyncpg.Connection, project_id: uuid.UUID,
                       revision_ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    return list(await conn.fetch(
        """SELECT r.id, r.revision, r.published_at, d.number FROM drawing_revisions r
           JOIN drawings d ON d.id = r.drawing_id
           WHERE r.project_id = $1 AND r.id = ANY ($2::uuid[])""", project_id, list(revision_ids)))


async def create(conn: asyncpg.Connection, *, project: asyncpg.Record, sent_by: uuid.UUID,
                 purpose: str, message: str | None, revision_ids: Sequence[uuid.UUID],
                 recipient_ids: Sequence[uuid.UUID]) -> asyncpg.Record:
    row = await conn.fetchrow(
        """INSERT INTO transmittals (org_id, project_id, purpose, message, revision_ids, sent_by)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
        project["org_id"], project["id"], purpose, message, list(revision_ids), sent_by)
    assert row is not None
    await conn.execute(
        """INSERT INTO transmittal_recipients (org_id, project_id, transmittal_id, user_id)
           SELECT $1, $2, $3, unnest($4::uuid[])""",
        project["org_id"], project["id"], row["id"], list(recipient_ids))
    made = await get(conn, row["id"])
    assert made is not None
    return made


async def get(conn: asyncpg.Connection, transmittal_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {WITH_RECIPIENTS} FROM transmittals t WHERE t.id = $1",  # noqa: S608 - constant
                               transmittal_id)


async def list_for_project(conn: asyncpg.Connection, project_id: uuid.UUID, page: PageLike,
                           filters: dict[str, Any]) -> list[asyncpg.Record]:
    return await fetch_page(conn, "transmittals t", [
        ("t.project_id = {}", project_id),
        ("({}::boolean AND EXISTS (SELECT 1 FROM transmittal_recipients r WHERE "
         "r.transmittal_id = t.id AND r.acknowledged_at IS NULL))",
         filters.get("unacknowledged") or None),
        ("{} = ANY (t.revision_ids)", filters.get("revision_id")),
    ], page, columns=WITH_RECIPIENTS)


async def acknowledge(conn: asyncpg.Connection, transmittal_id: uuid.UUID,
                      user_id: uuid.UUID) -> asyncpg.Record | None:
    """The recipient's row, acknowledged (the first time only); None: not a recipient."""
    return await conn.fetchrow(
        """UPDATE transmittal_recipients
           SET acknowledged_at = coalesce(acknowledged_at, clock_timestamp())
           WHERE transmittal_id = $1 AND user_id = $2 RETURNING *""", transmittal_id, user_id)


async def recipients_of_revision(conn: asyncpg.Connection,
                                 revision_id: uuid.UUID) -> list[uuid.UUID]:
    """Everyone a transmittal sent this revision to (once each)."""
    rows = await conn.fetch(
        """SELECT DISTINCT r.user_id FROM transmittals t
           JOIN transmittal_recipients r ON r.transmittal_id = t.id
           WHERE $1 = ANY (t.revision_ids)""", revision_id)
    return [r["user_id"] for r in rows]
