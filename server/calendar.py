"""Calendars for the server: IANA zone names checked against the tz database, and a project's
effective calendar (its own zone or the organisation's) as `rules.calendar.Calendar`."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

from db.queries import calendar as queries
from rules import calendar as rules
from server.errors import Invalid, NotFound


def zone(name: str) -> ZoneInfo:
    """The zone named `name`; 422 on `time_zone` when the tz database does not know it."""
    rules.make_calendar(name)  # the shape first: no path tricks reach the tz database
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Invalid(f"Unknown time zone {name!r}", code="invalid_time_zone",
                      errors=[{"field": "time_zone", "message": "unknown zone"}]) from exc


def of_row(row: Mapping[str, Any]) -> rules.Calendar:
    """The effective calendar of a `db.queries.calendar.project_calendar` row (or of an
    organisation's row)."""
    name = row.get("project_time_zone") or row.get("org_time_zone") or row["time_zone"]
    return rules.Calendar(name, frozenset(row["workdays"]), frozenset(row["holidays"]))


async def for_project(conn: asyncpg.Connection, project_id: uuid.UUID) -> rules.Calendar:
    """A visible project's calendar (404 when the caller cannot see the project)."""
    row = await queries.project_calendar(conn, project_id)
    if row is None:
        raise NotFound("No such project")
    return of_row(row)


def today_in(cal: rules.Calendar, now: dt.datetime | None = None) -> dt.date:
    """Today's date in the calendar's zone."""
    return rules.today(now or dt.datetime.now(dt.UTC), ZoneInfo(cal.zone))
