"""Project logs (reports): `GET /api/v1/projects/{id}/submittal-log` (shop drawings and
material specs in one list: status, latest review, ball in court, days open, overdue) and
`GET /api/v1/projects/{id}/rfi-log`. Keyset pages, exportable as CSV / XLSX; each page is
one statement (db/queries/logs.py) after the project's calendar (which also answers 404
for a project the caller cannot see). Days are dates in the project's zone; overdue
counts working days of the organisation's calendar."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import pydantic
from aiohttp import web

from db.pool import transaction
from db.queries import logs as queries
from rules import logs as rules
from rules.calendar import Calendar
from server import calendar
from server.auth.identity import actor
from server.exports.route import exportable
from server.fields import OneOf
from server.keys import POOL
from server.openapi import doc
from server.records import path_id
from server.rest import PageParams, SortKey, json_response, keyset, sortable
from server.validation import read_query

routes = web.RouteTableDef()

SubmittalStatus = Annotated[str, OneOf(rules.SUBMITTAL_STATUSES)]
SUBMITTAL_SORTABLE = sortable(number="text", created_at="timestamptz")
# An RFI without a due date sorts after every dated one.
RFI_SORTABLE = {"number": SortKey("seq", "int"),
                "due_on": SortKey("coalesce(due_on, '9999-12-31'::date)", "date")}


class SubmittalLogQuery(PageParams):
    kind: Literal["shop_drawing", "material_spec"] | None = None
    status: SubmittalStatus | None = None
    ball_in_court: uuid.UUID | None = None
    overdue: bool = False


class RfiLogQuery(PageParams):
    status: Literal["draft", "open", "answered", "closed", "void"] | None = None
    ball_in_court: uuid.UUID | None = None
    overdue: bool = False


class Holder(pydantic.BaseModel):
    kind: Literal["user", "role", "client"]
    ref: str  # a user id, a role name or a client company id
    since: dt.datetime | None
    due_on: dt.date | None


class SubmittalLogRow(pydantic.BaseModel):
    kind: Literal["shop_drawing", "material_spec"]
    id: uuid.UUID
    project_id: uuid.UUID
    number: str  # the drawing number, the spec's code ('' when it has none)
    title: str  # the drawing's title, the spec's description (its first 300 characters)
    revision: str | None
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None
    review_id: uuid.UUID | None  # the latest review (running or finished)
    review_name: str | None
    review_status: str | None
    review_step: int | None
    review_step_name: str | None
    review_steps: int | None
    review_result: str | None
    review_outcomes: list[str]  # the outcomes given so far in the review's current step
    ball_in_court_party: Literal["submitter", "reviewer", "review"] | None
    ball_in_court: list[Holder]
    ball_in_court_since: dt.datetime | None
    due_on: dt.date | None  # the running review's earliest pending answer
    days_open: int
    overdue: bool
    days_overdue: int  # working days past due_on


class RfiLogRow(pydantic.BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    number: str
    seq: int
    subject: str
    status: str
    priority: str
    discipline: str | None
    location: str | None
    cost_impact: str
    schedule_impact: str
    created_by: uuid.UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None
    ball_in_court: list[uuid.UUID]
    ball_in_court_since: dt.datetime | None
    due_on: dt.date | None
    official_answer_at: dt.datetime | None
    official_answer_on: dt.date | None  # in the project's zone
    days_open: int
    overdue: bool
    days_overdue: int


def _day(value: dt.datetime | None, zone: ZoneInfo) -> dt.date | None:
    return value.astimezone(zone).date() if value is not None else None


def _submittal(cal: Calendar, today: dt.date) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    zone = ZoneInfo(cal.zone)

    def shape(row: Mapping[str, Any]) -> dict[str, Any]:
        out = {k: row[k] for k in SubmittalLogRow.model_fields if k in row}
        if row["under_review"]:
            holders = list(row["holders"] or [])
            out |= {"ball_in_court_party": "review" if holders else None,
                    "ball_in_court": holders, "ball_in_court_since": row["task_since"]}
        else:
            user = row["party_user"]
            out |= {"ball_in_court_party": row["party"] if user else None,
                    "ball_in_court": [{"kind": "user", "ref": str(user),
                                       "since": row["party_since"], "due_on": None}]
                    if user else [],
                    "ball_in_court_since": row["party_since"] if user else None}
        late = rules.working_days_late(cal, row["due_on"], today)
        opened = _day(row["created_at"], zone)
        assert opened is not None
        out |= {"days_open": rules.days_open(opened, _day(row["closed_at"], zone), today),
                "overdue": late > 0, "days_overdue": late}
        return out

    return shape


def _rfi(cal: Calendar, today: dt.date) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    zone = ZoneInfo(cal.zone)

    def shape(row: Mapping[str, Any]) -> dict[str, Any]:
        out = {k: row[k] for k in RfiLogRow.model_fields if k in row}
        status = row["status"]
        court = (list(row["distribution"]) if status == "open"
                 else [row["created_by"]] if status == "answered" and row["created_by"]
                 else [])
        late = rules.working_days_late(cal, row["due_on"], today) if status == "open" else 0
        opened = _day(row["created_at"], zone)
        assert opened is not None
        out |= {"ball_in_court": court,
                "ball_in_court_since": row["updated_at"] if court else None,
                "official_answer_on": _day(row["official_answer_at"], zone),
                "days_open": rules.days_open(opened, _day(row["closed_at"], zone), today),
                "overdue": late > 0, "days_overdue": late}
        return out

    return shape


@routes.get("/api/v1/projects/{id}/submittal-log")
@exportable("submittal_log")
@doc(summary="The project's submittal log: shop drawings and material specs with status, "
     "latest review, ball in court, days open and overdue (in the project's zone)",
     query=SubmittalLogQuery, response=SubmittalLogRow, many=True, errors=[404],
     tags=["reports"])
async def submittal_log(request: web.Request) -> web.Response:
    project_id = path_id(request)
    query = read_query(request.query, SubmittalLogQuery)
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        cal = await calendar.for_project(conn, project_id)  # 404 when not visible
        today = calendar.today_in(cal)
        page = keyset(query, SUBMITTAL_SORTABLE, "number")
        rows = await queries.submittal_page(
            conn, page, project_id, kind=query.kind, status=query.status,
            overdue_on=today if query.overdue else None, ball_in_court=query.ball_in_court)
    return json_response(page.page(rows, _submittal(cal, today)))


@routes.get("/api/v1/projects/{id}/rfi-log")
@exportable("rfi_log")
@doc(summary="The project's RFI log: status, ball in court, days open, overdue and the "
     "official answer's date (in the project's zone)", query=RfiLogQuery, response=RfiLogRow,
     many=True, errors=[404], tags=["reports"])
async def rfi_log(request: web.Request) -> web.Response:
    project_id = path_id(request)
    query = read_query(request.query, RfiLogQuery)
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        cal = await calendar.for_project(conn, project_id)  # 404 when not visible
        today = calendar.today_in(cal)
        page = keyset(query, RFI_SORTABLE, "number")
        rows = await queries.rfi_page(
            conn, page, project_id, status=query.status,
            overdue_on=today if query.overdue else None, ball_in_court=query.ball_in_court)
    return json_response(page.page(rows, _rfi(cal, today)))
