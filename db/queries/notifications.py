"""SQL of notifications; row-level security shows each user only their own."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from db.queries.rows import PageLike, fetch_page

# One statement: each recipient's channel (fpm_notification_channel: their preference for
# the project and kind, else for all projects, else the default); no row for `off`; a
# delivery row for those mailed at once or in the digest. Ids are made here, since the author
# may not read the rows back (no RETURNING).
_NOTIFY = """
WITH r AS MATERIALIZED (
    SELECT gen_random_uuid() AS id, u.user_id, u.org_id, u.project_id, u.type, u.title,
           u.message, u.data,
           fpm_notification_channel(u.user_id, u.project_id, u.type) AS channel
    FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[],
                $7::jsonb[]) AS u(org_id, user_id, project_id, type, title, message, data)
), n AS (
    INSERT INTO notifications (id, org_id, user_id, project_id, type, title, message, data)
    SELECT id, org_id, user_id, project_id, type, title, message, data FROM r
    WHERE channel <> 'off'
)
INSERT INTO notification_deliveries (notification_id, org_id, user_id, channel)
SELECT id, org_id, user_id, channel FROM r WHERE channel IN ('email', 'digest')
"""


@dataclass(frozen=True)
class Note:
    org_id: uuid.UUID
    user_id: uuid.UUID
    project_id: uuid.UUID | None
    kind: str
    title: str
    message: str
    data: dict[str, Any]


async def notify_each(conn: asyncpg.Connection, notes: Sequence[Note]) -> None:
    """One notification per note, as each recipient's preferences say."""
    if notes:
        await conn.execute(_NOTIFY, [n.org_id for n in notes], [n.user_id for n in notes],
                           [n.project_id for n in notes], [n.kind for n in notes],
                           [n.title for n in notes], [n.message for n in notes],
                           [n.data for n in notes])


async def notify(conn: asyncpg.Connection, *, org_id: uuid.UUID,
                 user_ids: Sequence[uuid.UUID], project_id: uuid.UUID | None, kind: str,
                 title: str, message: str, data: dict[str, Any]) -> None:
    """One notification per recipient (none for those who turned the kind off)."""
    await notify_each(conn, [Note(org_id, user, project_id, kind, title, message, data)
                             for user in user_ids])


async def list_notifications(conn: asyncpg.Connection, page: PageLike, *, user_id: uuid.UUID,
                             kind: str | None, unread: bool | None) -> list[asyncpg.Record]:
    return await fetch_page(conn, "notifications", [
        ("user_id = {}", user_id), ("type = {}", kind), ("(read_at IS NULL) = {}", unread)],
        page)


async def mark_read(conn: asyncpg.Connection, notification_id: uuid.UUID,
                    user_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """UPDATE notifications SET read_at = coalesce(read_at, clock_timestamp())
           WHERE id = $1 AND user_id = $2 RETURNING *""", notification_id, user_id)


async def mark_all_read(conn: asyncpg.Connection, user_id: uuid.UUID) -> int:
    status = await conn.execute(
        """UPDATE notifications SET read_at = clock_timestamp()
           WHERE user_id = $1 AND read_at IS NULL""", user_id)
    return int(status.split()[-1])
