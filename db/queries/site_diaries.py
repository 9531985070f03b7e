"""SQL of site diaries: a project's diary of a day, the day before's, a diary's versions
(its audit rows). Runs as the caller (client users read no diary)."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from db.queries.rows import PageLike, Records, fetch_page

DIARIES = Records("site_diaries", filters=("project_id", "status"))
get_diary = DIARIES.one


async def page(conn: asyncpg.Connection, page: PageLike, project_id: uuid.UUID,
               status: str | None, first: dt.date | None,
               last: dt.date | None) -> list[asyncpg.Record]:
    return await fetch_page(conn, "site_diaries", [
        ("project_id = {}", project_id), ("status = {}", status), ("day >= {}", first),
        ("day <= {}", last)], page)


async def on_day(conn: asyncpg.Connection, project_id: uuid.UUID,
                 day: dt.date) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM site_diaries WHERE project_id = $1 AND day = $2",
                               project_id, day)


async def previous(conn: asyncpg.Connection, project_id: uuid.UUID,
                   day: dt.date) -> asyncpg.Record | None:
    """The project's last diary before `day` (yesterday's, or the last working day's)."""
    return await conn.fetchrow(
        "SELECT * FROM site_diaries WHERE project_id = $1 AND day < $2 "
        "ORDER BY day DESC LIMIT 1", project_id, day)


async def versions(conn: asyncpg.Connection, diary_id: uuid.UUID,
                   limit: int) -> list[asyncpg.Record]:
    """Every version of a diary, oldest first: the insert and each update of its row as the
    audit trail holds them (the whole row each time), with who and when."""
    return list(await conn.fetch(
        """SELECT a.id, a.action, a.at, a.user_id, a.new_values, a.changed_fields
           FROM audit_logs a
           WHERE a.table_name = 'site_diaries' AND a.record_id = $1
             AND a.action IN ('insert', 'update')
           ORDER BY a.id LIMIT $2""", diary_id, limit))


async def status(conn: asyncpg.Connection, diary_id: uuid.UUID) -> str | None:
    found: str | None = await conn.fetchval("SELECT status FROM site_diaries WHERE id = $1",
                                            diary_id)
    return found
