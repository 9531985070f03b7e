"""/api/v1/rfis: requests for information, numbered per project (`RFI-001`), answered by
responses, one of them official, then closed."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import asyncpg
import pydantic
from aiohttp import web

from db.pool import transaction
from db.queries import rfis as queries
from db.queries.notifications import notify
from db.queries.projects import project_refs
from db.queries.transmittals import readers_of
from rules import calendar as cal_rules
from rules import rfis as rules
from rules.permissions import can
from server import calendar
from server.auth.identity import Identity, actor, identity
from server.auth.permissions import Perm, require
from server.errors import Forbidden, Invalid, NotFound
from server.exports.route import exportable
from server.fields import Body, LongText, Money, Name, ShortText
from server.keys import POOL
from server.openapi import doc
from server.records import path_id, visible_project
from server.rest import PageParams, json_response, keyset, sortable
from server.validation import ApiModel, read_body, read_query
from server.writes import writes

routes = web.RouteTableDef()

Ids = Annotated[list[uuid.UUID], pydantic.Field(max_length=200)]
Impact = Literal["yes", "no", "unknown"]


class RfiCreate(ApiModel):
    project_id: uuid.UUID
    subject: Name
    question: Body
    discipline: ShortText | None = None
    location: ShortText | None = None
    priority: Literal["low", "normal", "high"] = "normal"
    due_on: dt.date | None = None
    cost_impact: Impact = "unknown"
    cost_amount: Money | None = None
    schedule_impact: Impact = "unknown"
    schedule_days: Annotated[int, pydantic.Field(ge=0, le=3650)] | None = None
    distribution: Ids = []
    drawing_ids: Ids = []
    revision_ids: Ids = []
    scope_item_ids: Ids = []


SORTABLE = sortable(seq="int", created_at="timestamptz")

class RfiQuery(PageParams):
    project_id: uuid.UUID
    status: Literal["draft", "open", "answered", "closed", "void"] | None = None
    ball_in_court: uuid.UUID | None = None
    overdue: bool = False


class RfiTransition(ApiModel):
    action: Literal["open", "close", "reopen", "void"]
    comment: LongText | None = None


class ResponseCreate(ApiModel):
    body: Body


class RfiOut(pydantic.BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    number: str
    seq: int
    subject: str
    status: str
    due_on: dt.date | None
    responses: list[dict[str, Any]]


async def _check_people_and_links(conn: asyncpg.Connection, body: RfiCreate) -> None:
    project = await project_refs(conn, body.project_id)
    assert project is not None
    readers = await readers_of(conn, project, body.distribution)
    if set(body.distribution) - readers:
        raise Invalid("Everyone on the distribution list must be able to read the project",
                      code="recipient_cannot_read",
                      errors=[{"field": "distribution", "message": "cannot read the project"}])
    for field in queries.LINKED:
        ids = getattr(body, field)
        if ids and await queries.unknown_links(conn, field, ids, body.project_id):
            raise Invalid("Linked records must be of the RFI's project", code="unknown_links",
                          errors=[{"field": field, "message": "not of this project"}])


@routes.post("/api/v1/rfis")
@doc(summary="Raise an RFI: draft, numbered RFI-001, RFI-002 ... per project, due by "
     "default the project's rfi_due_days working days later",
     body=RfiCreate, response=RfiOut, status=201, errors=[403, 404])
async def create_rfi(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.CREATE_TASKS)
    body = await read_body(request, RfiCreate)
    rules.check_impacts(body.cost_impact, body.cost_amount, body.schedule_impact,
                        body.schedule_days)
    async with writes(request) as conn:
        project = await visible_project(conn, body.project_id)
        await _check_people_and_links(conn, body)
        cal = await calendar.for_project(conn, body.project_id)
        today = calendar.today_in(cal)
        if body.due_on is not None:
            cal_rules.check_due_date(body.due_on, today)
        seq = await queries.next_seq(conn, body.project_id)
        values = body.model_dump()
        values |= {"org_id": who.org_id, "seq": seq, "number": rules.number(seq),
                   "created_by": who.user_id,
                   "due_on": body.due_on or cal_rules.add_working_days(
                       cal, today, project["rfi_due_days"])}
        row = await queries.create(conn, values)
        out = await queries.get(conn, row["id"])
    assert out is not None
    return json_response(dict(out), status=201)


@routes.get("/api/v1/rfis")
@exportable("rfis")
@doc(summary="A project's RFIs by number (status, ball in court, overdue in the project's "
     "zone)", query=RfiQuery, response=RfiOut, many=True, errors=[404])
async def list_rfis(request: web.Request) -> web.Response:
    query = read_query(request.query, RfiQuery)
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        await visible_project(conn, query.project_id)
        overdue_on = None
        if query.overdue:
            overdue_on = calendar.today_in(await calendar.for_project(conn, query.project_id))
        page = keyset(query, SORTABLE, "seq")
        rows = await queries.page(conn, page, query.project_id, query.status, overdue_on,
                                  query.ball_in_court)
    return json_response(page.page(rows, dict))


@routes.get("/api/v1/rfis/{id}")
@doc(summary="One RFI with its responses", response=RfiOut, errors=[404])
async def get_rfi(request: web.Request) -> web.Response:
    rfi_id = path_id(request)
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        row = await queries.get(conn, rfi_id)
    if row is None:
        raise NotFound("No such RFI")
    return json_response(dict(row))


async def _tell(conn: asyncpg.Connection, rfi: asyncpg.Record, who: Identity, kind: str,
                title: str) -> None:
    """The distribution list (and the RFI's creator) hear of it, the actor aside: the
    notification reaches their sockets live."""
    users = (set(rfi["distribution"]) | {rfi["created_by"]}) - {who.user_id, None}
    if users:
        await notify(conn, org_id=rfi["org_id"], user_ids=sorted(users),
                     project_id=rfi["project_id"], kind=kind,
                     title=f"{rfi['number']} {title}: {rfi['subject']}"[:300],
                     message=rfi["question"][:200],
                     data={"rfi_id": str(rfi["id"]), "number": rfi["number"]})


def _manager(who: Identity, rfi: asyncpg.Record) -> None:
    """The RFI manager: its creator, or whoever may edit the project."""
    if rfi["created_by"] != who.user_id and not can(who.role, Perm.EDIT_PROJECTS):
        raise Forbidden("Only the RFI's manager may do this", code="insufficient_permissions")


async def _locked(conn: asyncpg.Connection, rfi_id: uuid.UUID) -> asyncpg.Record:
    row = await queries.lock(conn, rfi_id)
    if row is None:
        raise NotFound("No such RFI")
    return row


async def _answer(conn: asyncpg.Connection, rfi_id: uuid.UUID, status: int = 200) -> web.Response:
    row = await queries.get(conn, rfi_id)
    assert row is not None
    return json_response(dict(row), status=status)


@routes.post("/api/v1/rfis/{id}/transitions")
@doc(summary="open, close (with an official response), reopen or void an RFI",
     body=RfiTransition, response=RfiOut, errors=[403, 404, 409])
async def transition_rfi(request: web.Request) -> web.Response:
    who = identity(request)
    rfi_id = path_id(request)
    body = await read_body(request, RfiTransition)
    async with writes(request) as conn:
        rfi = await _locked(conn, rfi_id)
        _manager(who, rfi)
        move = rules.next_state(rfi["status"], body.action,
                                rfi["official_response_id"] is not None)
        row = await queries.update(conn, rfi_id, {"status": move.target,
                                                  "comment": body.comment})
        if move.action in ("open", "reopen"):
            await _tell(conn, row, who, "rfi_open", "awaits an answer")
        return await _answer(conn, rfi_id)


@routes.post("/api/v1/rfis/{id}/responses")
@doc(summary="Respond to an open (or answered) RFI", body=ResponseCreate, response=RfiOut,
     status=201, errors=[403, 404, 409])
async def respond_rfi(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.COMMENT)
    rfi_id = path_id(request)
    body = await read_body(request, ResponseCreate)
    async with writes(request) as conn:
        rfi = await _locked(conn, rfi_id)
        rules.check_can_respond(rfi["status"])
        await queries.add_response(conn, {
            "org_id": rfi["org_id"], "project_id": rfi["project_id"], "rfi_id": rfi_id,
            "body": body.body, "author_id": who.user_id})
        return await _answer(conn, rfi_id, status=201)


@routes.post("/api/v1/rfis/{id}/responses/{response_id}/official")
@doc(summary="Mark a response the official answer: the RFI is answered", response=RfiOut,
     errors=[403, 404, 409])
async def make_official(request: web.Request) -> web.Response:
    who = identity(request)
    rfi_id, response_id = path_id(request), path_id(request, "response_id")
    async with writes(request) as conn:
        rfi = await _locked(conn, rfi_id)
        _manager(who, rfi)
        rules.check_can_respond(rfi["status"])
        if await queries.response(conn, rfi_id, response_id) is None:
            raise NotFound("No such response")
        await queries.set_official(conn, rfi_id, response_id)
        row = await queries.update(conn, rfi_id, {"status": "answered",
                                                  "official_response_id": response_id})
        await _tell(conn, row, who, "rfi_answered", "is answered")
        return await _answer(conn, rfi_id)
