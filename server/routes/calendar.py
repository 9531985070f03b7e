"""/api/v1/calendar: the organisation's working calendar, and a project's own time zone."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import pydantic
from aiohttp import web

from db.pool import transaction
from db.queries import calendar as queries
from rules import calendar as rules
from server import calendar
from server.auth.identity import actor, identity
from server.auth.permissions import Perm, require
from server.errors import NotFound
from server.fields import Keyword
from server.keys import POOL
from server.openapi import doc
from server.records import path_id, stale
from server.rest import if_match, json_response
from server.validation import ApiModel, read_body, read_query
from server.writes import writes

routes = web.RouteTableDef()

ZoneName = Annotated[Keyword, pydantic.Field(min_length=1)]
Weekday = Annotated[int, pydantic.Field(ge=1, le=7)]


class CalendarQuery(ApiModel):
    project_id: uuid.UUID | None = None


class OrgCalendarPut(ApiModel):
    """The whole calendar: zone, working ISO weekdays (1 Monday ... 7 Sunday), holidays."""

    time_zone: ZoneName
    workdays: Annotated[list[Weekday], pydantic.Field(min_length=1, max_length=7)] = \
        pydantic.Field(default_factory=lambda: list(rules.DEFAULT_WORKDAYS))
    holidays: Annotated[list[dt.date], pydantic.Field(max_length=rules.HOLIDAYS_MAX)] = \
        pydantic.Field(default_factory=list)


class ProjectZonePut(ApiModel):
    """A project's own zone; null returns it to the organisation's."""

    time_zone: ZoneName | None


class CalendarOut(pydantic.BaseModel):
    time_zone: str
    workdays: list[int]
    holidays: list[dt.date]
    today: dt.date
    version: int
    org_time_zone: str
    project_id: uuid.UUID | None = None
    project_time_zone: str | None = None


def _answer(row: Any, project: bool) -> dict[str, Any]:
    cal = calendar.of_row(row)
    org_zone = row["org_time_zone"] if project else row["time_zone"]
    out: dict[str, Any] = {
        "time_zone": cal.zone, "workdays": sorted(cal.workdays),
        "holidays": sorted(cal.holidays), "today": calendar.today_in(cal),
        "version": row["version"], "org_time_zone": org_zone}
    if project:
        out |= {"project_id": row["project_id"], "project_time_zone": row["project_time_zone"]}
    return out


@routes.get("/api/v1/calendar")
@doc(summary="The organisation's calendar, or with project_id a project's (its own zone or "
     "the organisation's), with today's date in that zone", query=CalendarQuery,
     response=CalendarOut, errors=[404])
async def get_calendar(request: web.Request) -> web.Response:
    query = read_query(request.query, CalendarQuery)
    who = identity(request)
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        if query.project_id is not None:
            row = await queries.project_calendar(conn, query.project_id)
        else:
            row = await queries.org_calendar(conn, who.org_id)
    if row is None:
        raise NotFound("No such project")
    project = query.project_id is not None
    return json_response(_answer(row, project), version=None if project else row["version"])


@routes.put("/api/v1/calendar")
@doc(summary="Set the organisation's calendar (org admins; If-Match optional)",
     body=OrgCalendarPut, response=CalendarOut, errors=[403, 412])
async def put_calendar(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.MANAGE_CALENDAR)
    version = if_match(request)
    body = await read_body(request, OrgCalendarPut)
    calendar.zone(body.time_zone)
    checked = rules.make_calendar(body.time_zone, body.workdays, body.holidays)
    async with writes(request) as conn:
        row = await queries.set_org_calendar(
            conn, who.org_id, time_zone=checked.zone, workdays=sorted(checked.workdays),
            holidays=sorted(checked.holidays), version=version)
        if row is None:
            current = await queries.org_calendar(conn, who.org_id)
            assert current is not None
            raise stale(current["version"])
    return json_response(_answer(row, False), version=row["version"])


@routes.put("/api/v1/projects/{id}/calendar")
@doc(summary="Set a project's own time zone (org admins; null: the organisation's again)",
     body=ProjectZonePut, response=CalendarOut, errors=[403, 404])
async def put_project_zone(request: web.Request) -> web.Response:
    require(identity(request).role, Perm.MANAGE_CALENDAR)
    project_id = path_id(request)
    body = await read_body(request, ProjectZonePut)
    if body.time_zone is not None:
        calendar.zone(body.time_zone)
    async with writes(request) as conn:
        if not await queries.set_project_zone(conn, project_id, body.time_zone):
            raise NotFound("No such project")
        row = await queries.project_calendar(conn, project_id)
    assert row is not None
    return json_response(_answer(row, True))
