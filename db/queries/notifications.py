"""SQL of notifications; row-level security shows each user only their own."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

from db.queries.rows import PageLike, fetch_page


async def notify(conn: asyncpg.Connection, *, org_id: uuid.UUID,
                 user_ids: Sequence[uuid.UUID], project_id: uuid.UUID | None, kind: str,
                 title: str, message: str, data: dict[str, Any]) -> None:
    """One notification per recipient. No RETURNING: the author may not read them."""
    await conn.execute(
        """INSERT INTO notifications (org_id, user_id, project_id, type, title, message, data)
           SELECT $1, unnest($2::uuid[]), $3, $4, $5, $6, $7::jsonb""",
        org_id, list(user_ids), project_id, kind, title, message, data)


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
