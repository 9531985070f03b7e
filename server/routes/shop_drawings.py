"""Shop drawings: CRUD, scope links, revision history and the submittal workflow."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import asyncpg
from aiohttp import web

from db.pool import transaction
from db.queries import rows
from db.queries import shop_drawings as queries
from db.queries.events import record_transition
from rules.enums import DRAWING_STATUSES
from rules.workflows import drawings, notices
from rules.workflows.machine import Transition
from server.auth.identity import actor, identity
from server.auth.permissions import Perm, require
from server.auth.session_copies import confirmed_in_database
from server.ball import pass_ball
from server.errors import Conflict, NotFound
from server.exports.route import exportable
from server.fields import Keyword, LongText, Name, OneOf, RecordOut, ScopeItemIds, ShortText, listed
from server.keys import POOL
from server.openapi import doc
from server.records import locked, path_id, provided, read_one, visible_project
from server.rest import PageParams, idempotent, if_match, json_response, keyset, record, sortable
from server.scope_links import check_edit, insert_linked, update_linked
from server.validation import ApiModel, read_body, read_query
from server.writes import writes

routes = web.RouteTableDef()
TABLE = "shop_drawings"
Status = Annotated[str, OneOf(DRAWING_STATUSES)]
SORTABLE = sortable(created_at="timestamptz", updated_at="timestamptz", drawing_number="text",
                     title="text", status="text")
REVISION_SORTABLE = sortable(closed_at="timestamptz")


class DrawingIn(ApiModel):
    project_id: uuid.UUID
    drawing_number: Name
    title: Name
    drawing_type: ShortText | None = None
    room: ShortText | None = None
    notes: LongText | None = None
    scope_item_ids: ScopeItemIds = []


class DrawingPatch(ApiModel):
    drawing_number: Name | None = None
    title: Name | None = None
    drawing_type: ShortText | None = None
    room: ShortText | None = None
    notes: LongText | None = None
    scope_item_ids: ScopeItemIds | None = None
    NOT_NULL = ("drawing_number", "title", "scope_item_ids")


class DrawingQuery(PageParams):
    project_id: uuid.UUID | None = None
    status: Status | None = None
    drawing_type: ShortText | None = None
    room: ShortText | None = None


class TransitionIn(ApiModel):
    # Listed for the document; the workflow checks it (422 naming the actions, then 403).
    action: Annotated[Keyword, listed(drawings.WORKFLOW.actions)]
    comment: LongText | None = None


class DrawingOut(RecordOut):
    org_id: uuid.UUID
    project_id: uuid.UUID
    drawing_number: str
    title: str
    drawing_type: str | None
    room: str | None
    revision: str
    status: str
    created_by: uuid.UUID | None
    submitted_by: uuid.UUID | None
    submitted_at: dt.datetime | None
    reviewed_by: uuid.UUID | None
    approved_by: uuid.UUID | None
    approved_at: dt.datetime | None
    file_name: str | None
    file_size: int | None
    mime_type: str | None
    storage_key: str | None
    notes: str | None
    legacy_id: str | None
    scope_item_ids: list[uuid.UUID]
    ball_in_court: uuid.UUID | None  # the user whose move it is
    ball_in_court_party: Literal["submitter", "reviewer"] | None
    allowed_actions: list[str]  # what the caller may do now


class RevisionOut(RecordOut):
    """A closed revision of a drawing."""

    org_id: uuid.UUID
    project_id: uuid.UUID
    drawing_id: uuid.UUID
    revision: str
    status: str
    comment: str | None
    file_name: str | None
    file_size: int | None
    closed_by: uuid.UUID | None
    closed_at: dt.datetime


def shape(row: Mapping[str, Any], role: str) -> dict[str, Any]:
    """The API object: the row, whose move it is, and what the caller may do next."""
    data = record(row, drop=("submitter_id", "reviewer_id"))
    party = drawings.ball_in_court(row["status"])
    data["ball_in_court"] = row[f"{party}_id"] if party else None
    data["ball_in_court_party"] = party
    data["allowed_actions"] = drawings.allowed_actions(row["status"], role)
    return data


@routes.get("/api/v1/shop-drawings")
@exportable("shop_drawings")
@doc(summary="List shop drawings", query=DrawingQuery, response=DrawingOut, many=True,
     errors=[404], tags=["shop-drawings"])
async def list_shop_drawings(request: web.Request) -> web.Response:
    query = read_query(request.query, DrawingQuery)
    page = keyset(query, SORTABLE, "created_at")
    filters = query.model_dump(include={"project_id", "status", "drawing_type", "room"})
    role = identity(request).role
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        if query.project_id is not None:
            await visible_project(conn, query.project_id)
        found = await queries.list_drawings(conn, page, filters)
    return json_response(page.page(found, lambda r: shape(r, role)))


@routes.post("/api/v1/shop-drawings")
@doc(summary="Create a shop drawing", body=DrawingIn, response=DrawingOut, status=201,
     errors=[403, 404, 409], tags=["shop-drawings"])
@idempotent
async def create_shop_drawing(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.CREATE_DRAWINGS)
    body = await read_body(request, DrawingIn)
    values = body.model_dump(exclude_none=True)
    async with writes(request) as conn:
        project = await visible_project(conn, body.project_id)
        row = await insert_linked(conn, TABLE, project, values, who.user_id)
        drawing = await queries.get_drawing(conn, row["id"])
    assert drawing is not None
    return json_response(shape(drawing, who.role), status=201)


@routes.get("/api/v1/shop-drawings/{id}")
@doc(summary="One shop drawing", response=DrawingOut, tags=["shop-drawings"])
async def get_shop_drawing(request: web.Request) -> web.Response:
    row = await read_one(request, TABLE, path_id(request), queries.get_drawing)
    return json_response(shape(row, identity(request).role))


@routes.patch("/api/v1/shop-drawings/{id}")
@doc(summary="Change a shop drawing (409 record_locked once decided)", body=DrawingPatch,
     response=DrawingOut, errors=[403, 409, 412], tags=["shop-drawings"])
@confirmed_in_database
async def update_shop_drawing(request: web.Request) -> web.Response:
    drawing_id = path_id(request)
    who = identity(request)
    require(who.role, Perm.EDIT_DRAWINGS)
    changes = provided(await read_body(request, DrawingPatch))
    async with writes(request) as conn:
        current = await locked(conn, TABLE, drawing_id, if_match(request))
        check_edit(drawings.LOCK, current, changes, who.role)  # 409 once decided
        await update_linked(conn, TABLE, current, changes)
        drawing = await queries.get_drawing(conn, drawing_id)
    assert drawing is not None
    return json_response(shape(drawing, who.role))


@routes.delete("/api/v1/shop-drawings/{id}")
@doc(summary="Delete a shop drawing (a first draft only)", status=204, errors=[403, 409, 412],
     tags=["shop-drawings"])
@confirmed_in_database
async def delete_shop_drawing(request: web.Request) -> web.Response:
    drawing_id = path_id(request)
    require(identity(request).role, Perm.EDIT_DRAWINGS)
    async with writes(request) as conn:
        current = await locked(conn, TABLE, drawing_id, if_match(request))
        if (current["status"], current["revision"]) != ("draft", "Rev A"):
            raise Conflict("Only a first draft can be deleted; void the drawing instead",
                           code="drawing_not_deletable")
        await rows.delete_row(conn, TABLE, drawing_id)
    return web.Response(status=204)


@routes.get("/api/v1/shop-drawings/{id}/revisions")
@exportable("shop_drawing_revisions")
@doc(summary="Closed revisions of a shop drawing", query=PageParams, response=RevisionOut,
     many=True, tags=["shop-drawings"])
async def list_revisions(request: web.Request) -> web.Response:
    drawing_id = path_id(request)
    page = keyset(read_query(request.query, PageParams), REVISION_SORTABLE, "closed_at")
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        if await queries.get_drawing(conn, drawing_id) is None:
            raise NotFound("No such shop drawing")
        found = await queries.REVISIONS.page(conn, page, {"drawing_id": drawing_id})
    return json_response(page.page(found))


def _stamps(step: Transition, current: asyncpg.Record, user_id: uuid.UUID) -> dict[str, Any]:
    """The columns a step writes besides `status`."""
    now = dt.datetime.now(dt.UTC)
    if step.action == "submit":
        return {"submitted_by": user_id, "submitted_at": now}
    if step.action == "start_review":
        return {"reviewed_by": user_id}
    if step.target in drawings.APPROVED:
        return {"approved_by": user_id, "approved_at": now}
    if step.action == "new_revision":
        return {"revision": drawings.next_revision(current["revision"]), "submitted_at": None,
                "reviewed_by": None, "approved_by": None, "approved_at": None}
    return {}


async def _apply(conn: asyncpg.Connection, current: asyncpg.Record, step: Transition,
                 user_id: uuid.UUID) -> None:
    values = {"status": step.target, **_stamps(step, current, user_id)}
    if step.action == "new_revision":
        reason = await queries.last_transition_comment(conn, current["id"])
        await queries.close_revision(conn, current, reason or step.comment, user_id)
    await rows.update_locked(conn, TABLE, current["id"], values)
    await record_transition(conn, TABLE, current, user_id, {
        "action": step.action, "from": step.source, "to": step.target,
        "comment": step.comment, "revision": current["revision"]})


@routes.post("/api/v1/shop-drawings/{id}/transitions")
@doc(summary="Apply a workflow action to a shop drawing", body=TransitionIn,
     response=DrawingOut, errors=[403, 409, 412], tags=["shop-drawings"])
@idempotent
async def transition_shop_drawing(request: web.Request) -> web.Response:
    drawing_id = path_id(request)
    who = identity(request)
    body = await read_body(request, TransitionIn)
    drawings.WORKFLOW.check_role(body.action, who.role)  # 403 before any state is read
    async with writes(request) as conn:
        current = await locked(conn, TABLE, drawing_id, if_match(request))
        step = drawings.next_state(current["status"], body.action, who.role, body.comment)
        await _apply(conn, current, step, who.user_id)
        drawing = await queries.get_drawing(conn, drawing_id)
        assert drawing is not None
        await pass_ball(
            conn, drawing, entity_type="shop_drawing", step=step, actor_id=who.user_id,
            what=f"shop drawing {drawing['drawing_number']} ({drawing['revision']})",
            party=notices.DRAWING_BALL.get(step.action),
            parties={"submitter": drawing["submitter_id"], "reviewer": drawing["reviewer_id"]})
    return json_response(shape(drawing, who.role))
