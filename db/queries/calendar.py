"""Calendars: the organisation's (time zone, working weekdays, holidays) and a project's own
time zone. Read through row-level security as the caller."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import asyncpg

from db.queries.rows import update_row

_ORG = "SELECT id, time_zone, workdays, holidays, version FROM organizations WHERE id = $1"


async def org_calendar(conn: asyncpg.Connection, org_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(_ORG, org_id)


async def set_org_calendar(conn: asyncpg.Connection, org_id: uuid.UUID, *, time_zone: str,
                           workdays: Sequence[int], holidays: Sequence[dt.date],
                           version: int | None) -> asyncpg.Record | None:
    """The new calendar row, or None when the version given is not the current one."""
    return await update_row(
        conn, "organizations", org_id,
        {"time_zone": time_zone, "workdays": list(workdays), "holidays": list(holidays)},
        version=version, returning="id, time_zone, workdays, holidays, version")


async def project_calendar(conn: asyncpg.Connection,
                           project_id: uuid.UUID) -> asyncpg.Record | None:
    """A visible project's calendar: its own zone (or None), the organisation's zone,
    weekdays and holidays; None when the caller cannot see the project."""
    return await conn.fetchrow(
        "SELECT p.id AS project_id, p.time_zone AS project_time_zone, "
        "o.time_zone AS org_time_zone, o.workdays, o.holidays, o.version "
        "FROM projects p JOIN organizations o ON o.id = p.org_id WHERE p.id = $1",
        project_id)


async def set_project_zone(conn: asyncpg.Connection, project_id: uuid.UUID,
                           time_zone: str | None) -> bool:
    """Set (or with None clear) a visible project's own zone; False when it is not visible."""
    row = await update_row(conn, "projects", project_id, {"time_zone": time_zone},
                           returning="id")
    return row is not None
