"""/api/v1/punch-items: the snag list. Snags are numbered per project (1, 2, 3 ... without
gaps), may carry a pin on a published drawing revision (moved to the drawing's next
published revision and flagged for checking: see server/routes/drawings.py), photos
(attachments of entity type `punch_item`) and people (assignee users or a client company, a
manager, a final approver); they move through the workflow of rules/punch_items.py.
`GET /api/v1/projects/{id}/handover` counts what is still open at handover."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import asyncpg
import pydantic
from aiohttp import web

from db.pool import transaction
from db.queries import punch_items as queries
from db.queries.events import record_transition
from db.queries.notifications import notify
from db.queries.projects import project_refs
from rules import punch_items as rules
from rules.enums import PRIORITIES
from rules.errors import InvalidInput
from server import calendar
from server.auth.identity import Identity, actor, identity
from server.auth.permissions import Perm, require
from server.auth.session_copies import confirmed_in_database
from server.errors import Conflict, Forbidden, Invalid, NotFound
from server.exports.route import exportable
from server.fields import LongText, Name, RecordOut, ShortText
from server.keys import POOL
from server.openapi import doc
from server.records import check_version, path_id, provided
from server.rest import PageParams, idempotent, if_match, json_response, keyset, sortable
from server.text import MULTI_LINE
from server.validation import ApiModel, read_body, read_query
from server.writes import writes

routes = web.RouteTableDef()
URL = "/api/v1/punch-items"

Status = Literal[rules.STATUSES]  # type: ignore[valid-type]
Category = Literal[rules.CATEGORIES]  # type: ignore[valid-type]
Priority = Literal[PRIORITIES]  # type: ignore[valid-type]
Action = Literal[rules.ACTIONS]  # type: ignore[valid-type]
Fraction = Annotated[float, pydantic.Field(ge=0.0, le=1.0, allow_inf_nan=False,
                                           description="a fraction of the sheet, 0..1")]
Assignees = Annotated[list[uuid.UUID], pydantic.Field(max_length=50)]
Comment = Annotated[str, pydantic.Field(max_length=10_000), MULTI_LINE]
SORTABLE = sortable(number="int", created_at="timestamptz", updated_at="timestamptz")


class Pin(ApiModel):
    drawing_revision_id: uuid.UUID
    x: Fraction
    y: Fraction


class PunchFields(ApiModel):
    description: LongText | None = None
    location: ShortText | None = None
    room: ShortText | None = None
    trade: ShortText | None = None
    priority: Priority | None = None
    category: Category | None = None
    due_on: dt.date | None = None


class People(ApiModel):
    assignee_user_ids: Assignees | None = None
    assignee_client_id: uuid.UUID | None = None
    manager_id: uuid.UUID | None = None
    final_approver_id: uuid.UUID | None = None


class PunchCreate(PunchFields, People):
    project_id: uuid.UUID
    title: Name
    pin: Pin | None = None


class PunchPatch(PunchFields, People):
    NOT_NULL = ("title", "priority", "category", "assignee_user_ids", "pin_needs_check")
    title: Name | None = None
    pin: Pin | None = None
    pin_needs_check: Literal[False] | None = pydantic.Field(
        None, description="false: the carried pin was checked")


class WalkItem(PunchFields):
    title: Name
    x: Fraction
    y: Fraction


class WalkDefaults(PunchFields, People):
    pass


class PunchWalk(ApiModel):
    project_id: uuid.UUID
    drawing_revision_id: uuid.UUID
    defaults: WalkDefaults = WalkDefaults()
    items: Annotated[list[WalkItem], pydantic.Field(min_length=1, max_length=rules.MAX_WALK)]


class PunchTransition(ApiModel):
    action: Action
    comment: Comment | None = None


class PunchReassign(ApiModel):
    ids: Annotated[list[uuid.UUID], pydantic.Field(min_length=1, max_length=200)]
    assignee_user_ids: Assignees = []
    assignee_client_id: uuid.UUID | None = None


class PunchQuery(PageParams):
    project_id: uuid.UUID
    status: Status | None = None
    assignee: uuid.UUID | None = pydantic.Field(
        None, description="a user among the assignees, or the assignee client company")
    drawing_id: uuid.UUID | None = None
    drawing_revision_id: uuid.UUID | None = None
    trade: ShortText | None = None
    category: Category | None = None
    overdue: bool = False


class PunchOut(RecordOut):
    org_id: uuid.UUID
    project_id: uuid.UUID
    number: int
    title: str
    description: str | None
    location: str | None
    room: str | None
    trade: str | None
    priority: Priority
    category: Category
    due_on: dt.date | None
    status: Status
    drawing_id: uuid.UUID | None
    drawing_revision_id: uuid.UUID | None
    pin_x: float | None
    pin_y: float | None
    pin_needs_check: bool
    assignee_user_ids: list[uuid.UUID]
    assignee_client_id: uuid.UUID | None
    manager_id: uuid.UUID | None
    final_approver_id: uuid.UUID | None
    created_by: uuid.UUID | None
    comment: str | None
    closed_at: dt.datetime | None
    photo_count: int
    overdue: bool
    ball_in_court_party: Literal["manager", "assignee", "final_approver"] | None
    allowed_actions: list[str]


class PunchList(pydantic.BaseModel):
    data: list[PunchOut]


class CategoryCounts(pydantic.BaseModel):
    defect: int
    client_preference: int


class TradeCounts(pydantic.BaseModel):
    trade: str | None
    open: int
    overdue: int
    by_category: CategoryCounts


class HandoverOut(pydantic.BaseModel):
    project_id: uuid.UUID
    practical_completion_on: dt.date | None
    defects_period_months: int
    defects_period_ends_on: dt.date | None
    in_defects_period: bool
    today: dt.date
    open_count: int
    overdue_count: int
    closed_count: int
    by_category: CategoryCounts
    by_status: dict[str, int]
    by_trade: list[TradeCounts]


# --- answers -------------------------------------------------------------------------------

def _caller(who: Identity) -> rules.Caller:
    return rules.Caller(who.user_id, who.role, who.client_id)


def shape(row: Mapping[str, Any], caller: rules.Caller, today: dt.date | None) -> dict[str, Any]:
    """A snag as the caller sees it: overdue (in the project's zone), whose move it is and
    what the caller may do now."""
    out = {k: v for k, v in row.items() if k != "_sort"}
    out["overdue"] = today is not None and rules.is_overdue(row["status"], row["due_on"], today)
    out["ball_in_court_party"] = rules.BALL.get(row["status"])
    out["allowed_actions"] = rules.allowed_actions(row["status"], rules.parties(caller, row))
    return out


async def _today(conn: asyncpg.Connection, project_id: uuid.UUID) -> dt.date:
    """Today in the project's zone (404 when the caller cannot see the project)."""
    return calendar.today_in(await calendar.for_project(conn, project_id))


def _invalid(exc: InvalidInput) -> Invalid:
    return Invalid(exc.detail, code=exc.code, errors=exc.errors)


# --- checks --------------------------------------------------------------------------------

async def _check_people(conn: asyncpg.Connection, project: Mapping[str, Any],
                        values: Mapping[str, Any]) -> None:
    """Everyone named must be able to read the project; a manager is staff; an assignee
    company is the project's client."""
    named: dict[str, list[uuid.UUID]] = {
        "assignee_user_ids": list(values.get("assignee_user_ids") or []),
        "manager_id": [values["manager_id"]] if values.get("manager_id") else [],
        "final_approver_id": ([values["final_approver_id"]]
                              if values.get("final_approver_id") else []),
    }
    everyone = sorted({u for ids in named.values() for u in ids})
    roles = await queries.readers(conn, project, everyone) if everyone else {}
    errors = [{"field": field, "message": "cannot read the project"}
              for field, ids in named.items() if any(u not in roles for u in ids)]
    if any(roles.get(u) == "client" for u in named["manager_id"]):
        errors.append({"field": "manager_id", "message": "a client user manages no snag"})
    client_id = values.get("assignee_client_id")
    if client_id is not None and client_id != project["client_id"]:
        errors.append({"field": "assignee_client_id", "message": "not the project's client"})
    if errors:
        raise Invalid("Everyone named on a snag must be able to read its project",
                      code="cannot_read_project", errors=errors)


async def _pin_revision(conn: asyncpg.Connection, project_id: uuid.UUID,
                        revision_id: uuid.UUID, field: str) -> asyncpg.Record:
    found = await queries.revision_of_project(conn, revision_id, project_id)
    if found is None:
        raise Invalid("Pins go on a published revision of a drawing of the project",
                      code="unknown_revision",
                      errors=[{"field": field, "message": "no such published revision"}])
    return found


async def _project(conn: asyncpg.Connection, project_id: uuid.UUID) -> asyncpg.Record:
    """The visible project, or 422 naming project_id (the body named it)."""
    project = await project_refs(conn, project_id)
    if project is None:
        raise NotFound("No such project")
    return project


def _new(who: Identity, project: Mapping[str, Any], fields: Mapping[str, Any],
         number: int) -> dict[str, Any]:
    values = {k: v for k, v in fields.items() if v is not None}
    return {"priority": "medium", "category": "defect", **values,
            "org_id": who.org_id, "project_id": project["id"], "number": number,
            "created_by": who.user_id,
            "manager_id": fields.get("manager_id") or who.user_id,
            "final_approver_id": fields.get("final_approver_id") or who.user_id}


# --- create --------------------------------------------------------------------------------

@routes.post(URL)
@doc(summary="Raise a snag: draft, numbered per project (1, 2, 3 ... without gaps); "
     "manager and final approver default to its creator", body=PunchCreate,
     response=PunchOut, status=201, errors=[403, 404])
@idempotent
async def create_punch_item(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.CREATE_TASKS)
    body = await read_body(request, PunchCreate)
    fields = body.model_dump(exclude={"project_id", "pin"})
    async with writes(request) as conn:
        project = await _project(conn, body.project_id)
        today = await _today(conn, body.project_id)
        await _check_people(conn, project, fields)
        if body.pin is not None:
            revision = await _pin_revision(conn, body.project_id,
                                           body.pin.drawing_revision_id,
                                           "pin.drawing_revision_id")
            fields |= {"drawing_id": revision["drawing_id"],
                       "drawing_revision_id": revision["id"],
                       "pin_x": body.pin.x, "pin_y": body.pin.y}
        number = await queries.next_numbers(conn, body.project_id)
        rows = await queries.create_many(conn, [_new(who, project, fields, number)])
    return json_response(shape(rows[0], _caller(who), today), status=201)


@routes.post(f"{URL}/walk")
@doc(summary="A walk: many snags pinned on one published drawing revision in one request "
     "(all or nothing, consecutive numbers)", body=PunchWalk, response=PunchList, status=201,
     errors=[403, 404])
@idempotent
async def walk_punch_items(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.CREATE_TASKS)
    body = await read_body(request, PunchWalk)
    defaults = body.defaults.model_dump()
    async with writes(request) as conn:
        project = await _project(conn, body.project_id)
        today = await _today(conn, body.project_id)
        await _check_people(conn, project, defaults)
        revision = await _pin_revision(conn, body.project_id, body.drawing_revision_id,
                                       "drawing_revision_id")
        first = await queries.next_numbers(conn, body.project_id, len(body.items))
        values = []
        for offset, item in enumerate(body.items):
            own = item.model_dump(exclude={"x", "y"})
            fields = defaults | {k: v for k, v in own.items() if v is not None} | {
                "drawing_id": revision["drawing_id"], "drawing_revision_id": revision["id"],
                "pin_x": item.x, "pin_y": item.y}
            values.append(_new(who, project, fields, first + offset))
        rows = await queries.create_many(conn, values)
    caller = _caller(who)
    return json_response({"data": [shape(r, caller, today) for r in rows]}, status=201)


# --- read ----------------------------------------------------------------------------------

@routes.get(URL)
@exportable("punch_items")
@doc(summary="A project's snags by number (status, assignee, drawing, trade, category, "
     "overdue in the project's zone)", query=PunchQuery, response=PunchOut, many=True,
     errors=[404])
async def list_punch_items(request: web.Request) -> web.Response:
    who = identity(request)
    query = read_query(request.query, PunchQuery)
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        today = await _today(conn, query.project_id)
        page = keyset(query, SORTABLE, "number")
        rows = await queries.page(conn, page, query.project_id, query.model_dump(),
                                  rules.OPEN, today if query.overdue else None)
    caller = _caller(who)
    return json_response(page.page(rows, lambda r: shape(r, caller, today)))


@routes.get(URL + "/{id}")
@doc(summary="One snag", response=PunchOut, errors=[404])
async def get_punch_item(request: web.Request) -> web.Response:
    who = identity(request)
    item_id = path_id(request)
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        row = await queries.get(conn, item_id)
        if row is None:
            raise NotFound("No such punch item")
        today = await _today(conn, row["project_id"])
    return json_response(shape(row, _caller(who), today), version=row["version"])


# --- change --------------------------------------------------------------------------------

async def _locked(conn: asyncpg.Connection, item_id: uuid.UUID) -> asyncpg.Record:
    row = await queries.lock(conn, item_id)
    if row is None:
        raise NotFound("No such punch item")
    return row


async def _answer(conn: asyncpg.Connection, who: Identity, item_id: uuid.UUID,
                  project_id: uuid.UUID) -> web.Response:
    row = await queries.get(conn, item_id)
    assert row is not None
    today = await _today(conn, project_id)
    return json_response(shape(row, _caller(who), today), version=row["version"])


@routes.patch(URL + "/{id}")
@doc(summary="Change a snag (its manager, or its creator while it is a draft); a closed "
     "snag is locked", body=PunchPatch, response=PunchOut, errors=[403, 404, 409, 412])
@confirmed_in_database
async def patch_punch_item(request: web.Request) -> web.Response:
    who = identity(request)
    item_id = path_id(request)
    version = if_match(request)
    body = await read_body(request, PunchPatch)
    changes = provided(body)
    async with writes(request) as conn:
        current = await _locked(conn, item_id)
        held = rules.parties(_caller(who), current)
        if rules.MANAGER not in held and not (current["status"] == "draft"
                                              and current["created_by"] == who.user_id):
            raise Forbidden("Only the snag's manager changes it", code="insufficient_permissions")
        check_version(current["version"], version)
        if current["status"] == "closed":
            raise Conflict("A closed snag is locked", code="record_locked",
                           extra={"state": "closed", "allowed_actions": []})
        project = await _project(conn, current["project_id"])
        await _check_people(conn, project, changes)
        pin = changes.pop("pin", ...)
        if pin is None:
            changes |= {"drawing_id": None, "drawing_revision_id": None, "pin_x": None,
                        "pin_y": None, "pin_needs_check": False}
        elif pin is not ...:
            assert body.pin is not None
            revision = await _pin_revision(conn, current["project_id"],
                                           body.pin.drawing_revision_id,
                                           "pin.drawing_revision_id")
            changes |= {"drawing_id": revision["drawing_id"],
                        "drawing_revision_id": revision["id"], "pin_x": body.pin.x,
                        "pin_y": body.pin.y, "pin_needs_check": False}
        if changes:
            await queries.update(conn, item_id, changes)
        return await _answer(conn, who, item_id, current["project_id"])


_NEXT: dict[str, str] = {  # who is told of a move: the party whose move it now is
    "initiate": rules.ASSIGNEE, "reinitiate": rules.ASSIGNEE, "reject_work": rules.ASSIGNEE,
    "mark_ready": rules.MANAGER, "dispute": rules.MANAGER, "not_accept": rules.MANAGER,
    "accept_work": rules.APPROVER,
}


async def _tell(conn: asyncpg.Connection, row: Mapping[str, Any], who: Identity,
                move: rules.Move) -> None:
    party = _NEXT.get(move.action)
    users: set[uuid.UUID] = set()
    if party == rules.ASSIGNEE:
        users = set(row["assignee_user_ids"])
    elif party == rules.MANAGER and row["manager_id"] is not None:
        users = {row["manager_id"]}
    elif party == rules.APPROVER and row["final_approver_id"] is not None:
        users = {row["final_approver_id"]}
    users.discard(who.user_id)
    if users:
        await notify(conn, org_id=row["org_id"], user_ids=sorted(users),
                     project_id=row["project_id"], kind="punch_item",
                     title=f"Snag {row['number']} {move.target.replace('_', ' ')}: "
                           f"{row['title']}"[:300],
                     message=(move.comment or "")[:2000],
                     data={"punch_item_id": str(row["id"]), "number": row["number"],
                           "action": move.action, "status": move.target})


@routes.post(URL + "/{id}/transitions")
@doc(summary="Move a snag through its workflow (each action by its party: see docs/api.md)",
     body=PunchTransition, response=PunchOut, errors=[403, 404, 409, 412])
@confirmed_in_database
async def transition_punch_item(request: web.Request) -> web.Response:
    who = identity(request)
    item_id = path_id(request)
    version = if_match(request)
    body = await read_body(request, PunchTransition)
    async with writes(request) as conn:
        current = await _locked(conn, item_id)
        held = rules.parties(_caller(who), current)
        rules.check_party(body.action, held)  # 403 before 412 and 409
        check_version(current["version"], version)
        move = rules.next_state(current["status"], body.action, held, body.comment)
        try:
            rules.check_assigned(move.action, current)
        except InvalidInput as exc:
            raise _invalid(exc) from None
        changes: dict[str, Any] = {"status": move.target, "comment": move.comment}
        changes["closed_at"] = dt.datetime.now(dt.UTC) if move.target == "closed" else None
        row = await queries.update(conn, item_id, changes)
        await record_transition(conn, "punch_items", current, who.user_id, {
            "action": move.action, "from": move.source, "to": move.target,
            "comment": move.comment})
        await _tell(conn, row, who, move)
        return await _answer(conn, who, item_id, current["project_id"])


@routes.post(f"{URL}/reassign")
@doc(summary="Give many snags of one project new assignees at once (their manager; all or "
     "nothing)", body=PunchReassign, response=PunchList, errors=[403, 404, 409])
async def reassign_punch_items(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.CREATE_TASKS)
    body = await read_body(request, PunchReassign)
    ids = list(dict.fromkeys(body.ids))
    if not body.assignee_user_ids and body.assignee_client_id is None:
        raise Invalid("Name the new assignees", code="no_assignee", errors=[
            {"field": "assignee_user_ids", "message": "no assignee"}])
    caller = _caller(who)
    async with writes(request) as conn:
        rows = await queries.lock_many(conn, ids)
        found = {r["id"] for r in rows}
        if missing := [i for i in ids if i not in found]:
            raise Invalid("No such punch items", code="unknown_ids", errors=[
                {"field": "ids", "message": f"no such punch item {missing[0]}"}])
        projects = {r["project_id"] for r in rows}
        if len(projects) != 1:
            raise Invalid("Reassign the snags of one project at a time", errors=[
                {"field": "ids", "message": "of several projects"}])
        if any(rules.MANAGER not in rules.parties(caller, r) for r in rows):
            raise Forbidden("Only the snags' manager reassigns them",
                            code="insufficient_permissions")
        if closed := [r["number"] for r in rows if r["status"] == "closed"]:
            raise Conflict(f"Snag {closed[0]} is closed", code="record_locked",
                           extra={"state": "closed"})
        project_id = projects.pop()
        project = await _project(conn, project_id)
        await _check_people(conn, project, body.model_dump())
        await queries.reassign(conn, ids, body.assignee_user_ids, body.assignee_client_id)
        today = await _today(conn, project_id)
        out = await queries.get_many(conn, ids)
    return json_response({"data": [shape(r, caller, today) for r in out]})


# --- handover ------------------------------------------------------------------------------

def _categories(counts: Mapping[str, int]) -> dict[str, int]:
    return {c: counts.get(c, 0) for c in rules.CATEGORIES}


def handover(project: Mapping[str, Any], counts: Sequence[Mapping[str, Any]],
             today: dt.date) -> dict[str, Any]:
    by_trade: dict[str | None, dict[str, Any]] = {}
    by_category: dict[str, int] = {}
    by_status: dict[str, int] = {}
    for row in counts:
        trade = by_trade.setdefault(row["trade"], {"trade": row["trade"], "open": 0,
                                                   "overdue": 0, "by_category": {}})
        trade["open"] += row["open"]
        trade["overdue"] += row["overdue"]
        cats = trade["by_category"]
        cats[row["category"]] = cats.get(row["category"], 0) + row["open"]
        by_category[row["category"]] = by_category.get(row["category"], 0) + row["open"]
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["open"]
    trades = sorted(by_trade.values(), key=lambda t: (t["trade"] is None, t["trade"] or ""))
    for trade in trades:
        trade["by_category"] = _categories(trade["by_category"])
    ends = rules.defects_period_end(project["practical_completion_on"],
                                    project["defects_period_months"])
    start = project["practical_completion_on"]
    return {
        "project_id": project["id"],
        "practical_completion_on": start,
        "defects_period_months": project["defects_period_months"],
        "defects_period_ends_on": ends,
        "in_defects_period": start is not None and ends is not None and start <= today < ends,
        "today": today,
        "open_count": sum(by_status.values()),
        "overdue_count": sum(t["overdue"] for t in trades),
        "closed_count": project["closed"],
        "by_category": _categories(by_category),
        "by_status": by_status,
        "by_trade": trades,
    }


@routes.get("/api/v1/projects/{id}/handover")
@doc(summary="Handover: open snags by trade and category, practical completion and the end "
     "of the defects period", response=HandoverOut, errors=[404])
async def project_handover(request: web.Request) -> web.Response:
    project_id = path_id(request)
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        today = await _today(conn, project_id)
        project = await queries.handover_project(conn, project_id)
        if project is None:
            raise NotFound("No such project")
        counts = await queries.handover_counts(conn, project_id, rules.OPEN, today)
    return json_response(handover(project, counts, today))
