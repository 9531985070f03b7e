"""/api/v1/site-diaries: the daily site diary of a project, one per day, for today and past
days only (in the project's time zone). Marked complete by the site manager, it is locked:
a change afterwards needs a project manager and a reason, and `…/history` shows every
version (the diary's audit rows, each holding the whole diary). Photos are attachments
with entity_type `site_diary`. Staff only: client users see no diary."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

import asyncpg
import pydantic
from aiohttp import web

from db.pool import transaction
from db.queries import procurement as spec_queries
from db.queries import rows
from db.queries import site_diaries as queries
from rules import site_diary as rules
from rules.permissions import Perm
from server import calendar
from server.auth.identity import actor, identity
from server.auth.permissions import require
from server.errors import Conflict, Invalid, NotFound
from server.exports.route import exportable
from server.fields import LongText, Name, RecordOut, ShortText
from server.keys import POOL
from server.openapi import doc
from server.records import locked, path_id, provided, read_one, visible_project
from server.rest import PageParams, if_match, json_response, keyset, record, sortable
from server.text import MULTI_LINE
from server.validation import ApiModel, read_body, read_query
from server.writes import writes

routes = web.RouteTableDef()
TABLE = "site_diaries"
TAGS = ["site-diaries"]
SORTABLE = sortable(day="date", created_at="timestamptz")
Entries = 100  # the most entries of one section
Text = Annotated[str, pydantic.Field(max_length=2000), MULTI_LINE]
Hours = Annotated[float, pydantic.Field(ge=0, le=100_000, allow_inf_nan=False)]


class Weather(ApiModel):
    conditions: ShortText | None = None  # "sunny", "rain from 14:00" ...
    temperature_min_c: Annotated[float, pydantic.Field(ge=-80, le=70,
                                                       allow_inf_nan=False)] | None = None
    temperature_max_c: Annotated[float, pydantic.Field(ge=-80, le=70,
                                                       allow_inf_nan=False)] | None = None
    precipitation_mm: Annotated[float, pydantic.Field(ge=0, le=2000,
                                                      allow_inf_nan=False)] | None = None
    wind_kmh: Annotated[float, pydantic.Field(ge=0, le=500, allow_inf_nan=False)] | None = None
    site_workable: bool | None = None


class Manpower(ApiModel):
    company: Name
    trade: ShortText | None = None
    workers: Annotated[int, pydantic.Field(ge=0, le=10_000)]
    hours: Hours


class Delivery(ApiModel):
    description: Name
    supplier: ShortText | None = None
    quantity: ShortText | None = None
    material_spec_id: uuid.UUID | None = None  # when the delivery is of a material spec


class Visitor(ApiModel):
    name: Name
    company: ShortText | None = None
    purpose: ShortText | None = None


class Delay(ApiModel):
    cause: Name
    hours_lost: Hours
    description: Text | None = None


class Safety(ApiModel):
    kind: Literal["observation", "incident"]
    description: Annotated[str, pydantic.Field(min_length=1, max_length=2000), MULTI_LINE]
    severity: Literal["low", "medium", "high"] | None = None


def _list(model: Any) -> Any:
    return Annotated[list[model], pydantic.Field(max_length=Entries)]


class DiaryFields(ApiModel):
    weather: Weather | None = None
    manpower: _list(Manpower) | None = None  # type: ignore[valid-type]
    deliveries: _list(Delivery) | None = None  # type: ignore[valid-type]
    visitors: _list(Visitor) | None = None  # type: ignore[valid-type]
    delays: _list(Delay) | None = None  # type: ignore[valid-type]
    safety: _list(Safety) | None = None  # type: ignore[valid-type]
    notes: LongText | None = None


class DiaryIn(DiaryFields):
    project_id: uuid.UUID
    day: dt.date
    copy_manpower: bool = False  # start with the manpower of the project's previous diary


class DiaryPatch(DiaryFields):
    # Required for a change of a completed diary (project managers only).
    reason: Annotated[str, pydantic.Field(min_length=1, max_length=10_000),
                      MULTI_LINE] | None = None
    NOT_NULL = ("weather", *rules.SECTIONS)


class DiaryQuery(PageParams):
    project_id: uuid.UUID
    status: Literal["open", "complete"] | None = None
    day_from: dt.date | None = None
    day_to: dt.date | None = None


class DiaryOut(RecordOut):
    org_id: uuid.UUID
    project_id: uuid.UUID
    day: dt.date
    status: str
    weather: dict[str, Any]
    manpower: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]
    visitors: list[dict[str, Any]]
    delays: list[dict[str, Any]]
    safety: list[dict[str, Any]]
    notes: str | None
    completed_by: uuid.UUID | None
    completed_at: dt.datetime | None
    change_reason: str | None
    created_by: uuid.UUID | None


class VersionOut(pydantic.BaseModel):
    version: int
    at: dt.datetime
    by: uuid.UUID | None
    action: str  # created | updated
    status: str
    reason: str | None  # the reason given for a change of a completed diary
    changed_fields: list[str] | None
    diary: dict[str, Any]


class HistoryOut(pydantic.BaseModel):
    id: uuid.UUID
    versions: list[VersionOut]


HISTORY_MAX = 1000


def _values(body: DiaryFields, fields: Iterable[str]) -> dict[str, Any]:
    """The columns of the fields given, as JSON-ready values (nulls dropped from weather)."""
    out: dict[str, Any] = {}
    for name in fields:
        if name == "weather":
            out[name] = body.weather.model_dump(mode="json", exclude_none=True) \
                if body.weather is not None else {}
        elif name in rules.SECTIONS:
            out[name] = [e.model_dump(mode="json", exclude_none=True)
                         for e in getattr(body, name) or []]
        elif name == "notes":
            out[name] = body.notes
    return out


async def _check_deliveries(conn: asyncpg.Connection, project_id: uuid.UUID,
                            values: Mapping[str, Any]) -> None:
    ids = {uuid.UUID(d["material_spec_id"]) for d in values.get("deliveries") or ()
           if d.get("material_spec_id")}
    if ids and ids - await spec_queries.known_specs(conn, project_id, sorted(ids)):
        raise Invalid("A delivery names a material spec that is not of this project",
                      code="unknown_material_spec",
                      errors=[{"field": "deliveries", "message": "unknown material_spec_id"}])


@routes.post("/api/v1/site-diaries")
@doc(summary="Open the site diary of a day (today or a past day in the project's zone)",
     body=DiaryIn, response=DiaryOut, status=201, errors=[403, 404, 409], tags=TAGS)
async def create_diary(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.WRITE_SITE_DIARY)
    body = await read_body(request, DiaryIn)
    values = _values(body, body.model_fields_set)
    async with writes(request) as conn:
        project = await visible_project(conn, body.project_id)
        rules.check_day(body.day, calendar.today_in(
            await calendar.for_project(conn, body.project_id)))
        await _check_deliveries(conn, body.project_id, values)
        if await queries.on_day(conn, body.project_id, body.day) is not None:
            raise Conflict("The project has a diary for this day already",
                           code="diary_exists",
                           errors=[{"field": "day", "message": "has a diary"}])
        if body.copy_manpower:
            before = await queries.previous(conn, body.project_id, body.day)
            values["manpower"] = rules.copied_manpower(
                before["manpower"] if before else None, values.get("manpower") or [])
        row = await rows.insert_row(conn, TABLE, values | {
            "org_id": project["org_id"], "project_id": body.project_id, "day": body.day,
            "created_by": who.user_id})
    return json_response(record(row), status=201)


@routes.get("/api/v1/site-diaries")
@exportable("site_diaries")
@doc(summary="A project's site diaries by day (from, to: days; status)", query=DiaryQuery,
     response=DiaryOut, many=True, errors=[404], tags=TAGS)
async def list_diaries(request: web.Request) -> web.Response:
    query = read_query(request.query, DiaryQuery)
    page = keyset(query, SORTABLE, "-day")
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        await visible_project(conn, query.project_id)
        found = await queries.page(conn, page, query.project_id, query.status, query.day_from,
                                   query.day_to)
    return json_response(page.page(found))


@routes.get("/api/v1/site-diaries/{id}")
@doc(summary="One site diary", response=DiaryOut, tags=TAGS)
async def get_diary(request: web.Request) -> web.Response:
    row = await read_one(request, TABLE, path_id(request), queries.get_diary)
    return json_response(record(row))


@routes.patch("/api/v1/site-diaries/{id}")
@doc(summary="Change a diary (a section given replaces it; a completed diary: project "
     "managers only, with a reason)", body=DiaryPatch, response=DiaryOut,
     errors=[403, 409, 412], tags=TAGS)
async def update_diary(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.WRITE_SITE_DIARY)
    diary_id = path_id(request)
    body = await read_body(request, DiaryPatch)
    given = provided(body)
    values = _values(body, given)
    async with writes(request) as conn:
        current = await locked(conn, TABLE, diary_id, if_match(request))
        amending = rules.check_write(current["status"], who.role, body.reason)
        await _check_deliveries(conn, current["project_id"], values)
        if amending:
            values["change_reason"] = body.reason
        elif body.reason is not None:
            raise Invalid("A reason goes with a change of a completed diary only",
                          code="validation_failed",
                          errors=[{"field": "reason", "message": "the diary is open"}])
        row = await rows.update_locked(conn, TABLE, diary_id, values)
    return json_response(record(row))


@routes.post("/api/v1/site-diaries/{id}/complete")
@doc(summary="Mark a diary complete (the site manager): it is locked from then on",
     response=DiaryOut, errors=[403, 409, 412], tags=TAGS)
async def complete_diary(request: web.Request) -> web.Response:
    who = identity(request)
    diary_id = path_id(request)
    async with writes(request) as conn:
        current = await locked(conn, TABLE, diary_id, if_match(request))
        rules.check_complete(current["status"], who.role)
        row = await rows.update_locked(conn, TABLE, diary_id, {
            "status": "complete", "completed_by": who.user_id,
            "completed_at": dt.datetime.now(dt.UTC)})
    return json_response(record(row))


@routes.post("/api/v1/site-diaries/{id}/copy-manpower")
@doc(summary="Copy the manpower of the project's previous diary (yesterday's, or the last "
     "day with one) into this one", response=DiaryOut, errors=[403, 409, 412], tags=TAGS)
async def copy_manpower(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.WRITE_SITE_DIARY)
    diary_id = path_id(request)
    async with writes(request) as conn:
        current = await locked(conn, TABLE, diary_id, if_match(request))
        rules.check_write(current["status"], who.role, None)
        before = await queries.previous(conn, current["project_id"], current["day"])
        if before is None:
            raise NotFound("The project has no diary before this day")
        row = await rows.update_locked(conn, TABLE, diary_id, {
            "manpower": rules.copied_manpower(before["manpower"], current["manpower"])})
    return json_response(record(row))


@routes.get("/api/v1/site-diaries/{id}/history")
@doc(summary="Every version of a diary, oldest first: who, when, the reason of a change "
     "after completion, and the whole diary as it was", response=HistoryOut, tags=TAGS)
async def diary_history(request: web.Request) -> web.Response:
    diary_id = path_id(request)
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        if await queries.get_diary(conn, diary_id) is None:
            raise NotFound("No such site diary")
        found = await queries.versions(conn, diary_id, HISTORY_MAX)
    versions = []
    was_complete = False
    for row in found:
        diary = dict(row["new_values"] or {})
        versions.append({
            "version": diary.get("version"), "at": row["at"], "by": row["user_id"],
            "action": "created" if row["action"] == "insert" else "updated",
            "status": diary.get("status"),
            # A change made once the diary was complete carries its reason.
            "reason": diary.get("change_reason") if was_complete else None,
            "changed_fields": row["changed_fields"], "diary": diary})
        was_complete = diary.get("status") == "complete"
    return json_response({"id": diary_id, "versions": versions})
