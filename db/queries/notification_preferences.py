"""SQL of a user's notification preferences; row-level security shows each user only their
own. The effective channel of a notification is `fpm_notification_channel` (migration 0026)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

ROWS_MAX = 5000  # stored preferences one user may hold


async def of_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[asyncpg.Record]:
    """The user's stored preferences of projects they can still read, and the all-projects
    ones."""
    return list(await conn.fetch(
        """SELECT project_id, kind, channel FROM notification_preferences
           WHERE user_id = $1 AND (project_id IS NULL OR app_can_see_project(project_id))
           ORDER BY project_id NULLS FIRST, kind LIMIT $2""", user_id, ROWS_MAX))


async def readable_projects(conn: asyncpg.Connection,
                            project_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    rows = await conn.fetch("SELECT id FROM projects WHERE id = ANY ($1::uuid[])",
                            list(project_ids))
    return {r["id"] for r in rows}


async def write(conn: asyncpg.Connection, *, org_id: uuid.UUID, user_id: uuid.UUID,
                changes: Sequence[Any]) -> None:
    """Upsert or remove (channel None) each change (`rules.notifications.Change`)."""
    for change in changes:
        if change.channel is None:
            await conn.execute(
                """DELETE FROM notification_preferences WHERE user_id = $1
                   AND project_id IS NOT DISTINCT FROM $2 AND kind = $3""",
                user_id, change.project_id, change.kind)
        elif change.project_id is None:
            await conn.execute(
                """INSERT INTO notification_preferences (org_id, user_id, kind, channel)
                   VALUES ($1, $2, $3, $4)
                   ON CONFLICT (user_id, kind) WHERE project_id IS NULL
                   DO UPDATE SET channel = excluded.channel""",
                org_id, user_id, change.kind, change.channel)
        else:
            await conn.execute(
                """INSERT INTO notification_preferences
                       (org_id, user_id, project_id, kind, channel)
                   VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (user_id, project_id, kind) WHERE project_id IS NOT NULL
                   DO UPDATE SET channel = excluded.channel""",
                org_id, user_id, change.project_id, change.kind, change.channel)


async def count(conn: asyncpg.Connection, user_id: uuid.UUID) -> int:
    n: int = await conn.fetchval(
        "SELECT count(*) FROM notification_preferences WHERE user_id = $1", user_id)
    return n
