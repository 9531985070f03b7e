"""Material specifications: CRUD, scope links and the approval and procurement workflow."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Annotated, Any

import pydantic
from aiohttp import web

from db.audience import is_client, without_internal
from db.pool import transaction
from db.queries import material_specs as queries
from db.queries import rows
from db.queries.events import record_transition
from rules import procurement as procurement_rules
from rules.enums import SPEC_STATUSES
from rules.workflows import notices, specs
from server import calendar, procurement
from server.auth.identity import actor, identity
from server.auth.permissions import Perm, require
from server.auth.session_copies import confirmed_in_database
from server.ball import pass_ball
from server.errors import Conflict, Invalid
from server.exports.route import exportable
from server.fields import (
    Body,
    FreeJson,
    Keyword,
    LongText,
    Money,
    MoneyOut,
    OneOf,
    Quantity,
    RecordOut,
    ScopeItemIds,
    ShortText,
    line_total,
    listed,
)
from server.keys import POOL
from server.openapi import doc
from server.records import locked, path_id, provided, read_one, visible_project
from server.rest import PageParams, idempotent, if_match, json_response, keyset, record, sortable
from server.scope_links import check_edit, insert_linked, update_linked
from server.validation import ApiModel, read_body, read_query
from server.writes import writes

routes = web.RouteTableDef()
TABLE = "material_specs"
Status = Annotated[str, OneOf(SPEC_STATUSES)]
Currency = Annotated[str, pydantic.StringConstraints(pattern=r"^[A-Z]{3}$")]
SORTABLE = sortable(created_at="timestamptz", updated_at="timestamptz", description="text",
                     status="text")


class SpecFields(ApiModel):
    code: ShortText | None = None
    category: ShortText | None = None
    material: ShortText | None = None
    finish: ShortText | None = None
    manufacturer: ShortText | None = None
    supplier_name: ShortText | None = None
    supplier_contact: ShortText | None = None
    supplier_phone: ShortText | None = None
    supplier_email: ShortText | None = None
    quantity: Quantity | None = None
    unit: ShortText | None = None
    unit_cost: Money | None = None
    lead_time_days: int | None = pydantic.Field(None, ge=0, le=3650)
    # The procurement schedule (rules/procurement.py): order-by and submit-by derive from it.
    required_on_site: dt.date | None = None
    design_review_days: int | None = pydantic.Field(None, ge=0, le=3650)
    internal_review_days: int | None = pydantic.Field(None, ge=0, le=3650)
    expected_delivery_on: dt.date | None = None
    specification: FreeJson | None = None
    notes: LongText | None = None


class SpecIn(SpecFields):
    project_id: uuid.UUID
    description: Body
    currency: Currency = "TRY"
    scope_item_ids: ScopeItemIds = []


class SpecPatch(SpecFields):
    description: Body | None = None
    currency: Currency | None = None
    scope_item_ids: ScopeItemIds | None = None
    NOT_NULL = ("description", "currency", "specification", "scope_item_ids")


class SpecQuery(PageParams):
    project_id: uuid.UUID | None = None
    status: Status | None = None
    category: ShortText | None = None


class TransitionIn(ApiModel):
    # Listed for the document; the workflow checks it (422 naming the actions, then 403).
    action: Annotated[Keyword, listed(specs.WORKFLOW.actions)]
    comment: LongText | None = None


class DeliveryIn(ApiModel):
    delivery_status: Annotated[Keyword, listed(procurement_rules.DELIVERY)]
    on: dt.date | None = None  # the day it happened (default: today in the project's zone)
    expected_delivery_on: dt.date | None = None


class SpecOut(RecordOut):
    org_id: uuid.UUID
    project_id: uuid.UUID
    code: str | None
    description: str
    category: str | None
    material: str | None
    finish: str | None
    manufacturer: str | None
    supplier_name: str | None
    supplier_contact: str | None
    supplier_phone: str | None
    supplier_email: str | None
    quantity: MoneyOut | None
    unit: str | None
    # Internal costs: absent for client users.
    unit_cost: MoneyOut | None = None
    total_cost: MoneyOut | None = None
    currency: str
    lead_time_days: int | None
    status: str
    approved_by: uuid.UUID | None
    approved_at: dt.datetime | None
    created_by: uuid.UUID | None
    specification: dict[str, Any]
    notes: str | None
    legacy_id: str | None
    scope_item_ids: list[uuid.UUID]
    required_on_site: dt.date | None = None
    design_review_days: int | None = None
    internal_review_days: int | None = None
    expected_delivery_on: dt.date | None = None
    delivery_status: str | None = None
    ordered_on: dt.date | None = None
    in_fabrication_on: dt.date | None = None
    shipped_on: dt.date | None = None
    delivered_on: dt.date | None = None
    received_on: dt.date | None = None
    risk_reasons: list[str] = []  # the at-risk flags as last computed
    at_risk: bool = False
    allowed_actions: list[str]  # what the caller may do now


def shape(row: Mapping[str, Any], role: str) -> dict[str, Any]:
    """The spec as an answer to a user of `role` (client users: without internal costs)."""
    data = record(row)
    data["allowed_actions"] = specs.allowed_actions(row["status"], role)
    return without_internal(TABLE, data) if is_client(role) else data


def _total(values: Mapping[str, Any], current: Any = None) -> dict[str, Any]:
    """total_cost = quantity x unit_cost, when either of them is being set (or on create)."""
    if current is not None and not {"quantity", "unit_cost"} & values.keys():
        return {}
    merged = {**(dict(current) if current is not None else {}), **values}
    return {"total_cost": line_total(merged.get("quantity"), merged.get("unit_cost"),
                                     "total_cost")}


@routes.get("/api/v1/material-specs")
@exportable("material_specs")
@doc(summary="List material specs (client users: without costs)", query=SpecQuery,
     response=SpecOut, many=True, errors=[404], tags=["material-specs"])
async def list_material_specs(request: web.Request) -> web.Response:
    query = read_query(request.query, SpecQuery)
    page = keyset(query, SORTABLE, "created_at")
    filters = query.model_dump(include={"project_id", "status", "category"})
    role = identity(request).role
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        if query.project_id is not None:
            await visible_project(conn, query.project_id)
        found = await queries.list_specs(conn, page, filters)
    return json_response(page.page(found, lambda r: shape(r, role)))


@routes.post("/api/v1/material-specs")
@doc(summary="Create a material spec (total_cost = quantity x unit_cost)", body=SpecIn,
     response=SpecOut, status=201, errors=[403, 404], tags=["material-specs"])
@idempotent
async def create_material_spec(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.MANAGE_MATERIALS)
    body = await read_body(request, SpecIn)
    values = body.model_dump(exclude_none=True)
    procurement_rules.check_dates(values)
    async with writes(request) as conn:
        project = await visible_project(conn, body.project_id)
        merged = {f: None for f in procurement_rules.SCHEDULE_FIELDS} | {"status": "pending"}
        values |= await procurement.with_flags(conn, project["id"], merged | values, [])
        row = await insert_linked(conn, TABLE, project, values | _total(values), who.user_id)
        await procurement.tell(conn, row, [])
    return json_response(shape(row, who.role), status=201)


@routes.get("/api/v1/material-specs/{id}")
@doc(summary="One material spec", response=SpecOut, tags=["material-specs"])
async def get_material_spec(request: web.Request) -> web.Response:
    row = await read_one(request, TABLE, path_id(request), queries.get_spec)
    return json_response(shape(row, identity(request).role))


@routes.patch("/api/v1/material-specs/{id}")
@doc(summary="Change a material spec (409 record_locked for decided fields)", body=SpecPatch,
     response=SpecOut, errors=[403, 409, 412], tags=["material-specs"])
@confirmed_in_database
async def update_material_spec(request: web.Request) -> web.Response:
    spec_id = path_id(request)
    who = identity(request)
    require(who.role, Perm.MANAGE_MATERIALS)
    changes = provided(await read_body(request, SpecPatch))
    procurement_rules.check_dates(changes)
    async with writes(request) as conn:
        current = await locked(conn, TABLE, spec_id, if_match(request))
        check_edit(specs.LOCK, current, changes, who.role)
        flags = await procurement.with_flags(conn, current["project_id"],
                                             {**current, **changes}, current["risk_reasons"])
        row = await update_linked(conn, TABLE, current, changes,
                                  _total(changes, current) | flags)
        await procurement.tell(conn, row, current["risk_reasons"])
    return json_response(shape(row, who.role))


@routes.delete("/api/v1/material-specs/{id}")
@doc(summary="Delete a material spec (not once approved)", status=204, errors=[403, 409, 412],
     tags=["material-specs"])
@confirmed_in_database
async def delete_material_spec(request: web.Request) -> web.Response:
    spec_id = path_id(request)
    require(identity(request).role, Perm.MANAGE_MATERIALS)
    async with writes(request) as conn:
        current = await locked(conn, TABLE, spec_id, if_match(request))
        if current["status"] not in specs.DELETABLE:
            raise Conflict("An approved material spec is committed and cannot be deleted",
                           code="spec_not_deletable")
        await rows.delete_row(conn, TABLE, spec_id)
    return web.Response(status=204)


@routes.post("/api/v1/material-specs/{id}/transitions")
@doc(summary="Apply a workflow action to a material spec", body=TransitionIn,
     response=SpecOut, errors=[403, 409, 412], tags=["material-specs"])
@idempotent
async def transition_material_spec(request: web.Request) -> web.Response:
    spec_id = path_id(request)
    who = identity(request)
    body = await read_body(request, TransitionIn)
    specs.WORKFLOW.check_role(body.action, who.role)  # 403 before any state is read
    async with writes(request) as conn:
        current = await locked(conn, TABLE, spec_id, if_match(request))
        step = specs.next_state(current["status"], body.action, who.role, body.comment)
        values: dict[str, Any] = {"status": step.target}
        if step.action == "approve":
            values |= {"approved_by": who.user_id, "approved_at": dt.datetime.now(dt.UTC)}
        if step.target not in procurement_rules.ORDERED and \
                current["status"] in procurement_rules.ORDERED:
            # Returned for revision: what was ordered is no longer on its way.
            values |= {"delivery_status": None, "expected_delivery_on": None} | {
                f"{s}_on": None for s in procurement_rules.DELIVERY}
        values |= await procurement.with_flags(conn, current["project_id"],
                                               {**current, **values}, current["risk_reasons"])
        row = await rows.update_locked(conn, TABLE, spec_id, values)
        await procurement.tell(conn, row, current["risk_reasons"])
        await record_transition(conn, TABLE, current, who.user_id, {
            "action": step.action, "from": step.source, "to": step.target,
            "comment": step.comment})
        party = notices.SPEC_BALL.get(step.action)
        if party is not None:
            await pass_ball(conn, row, entity_type="material_spec", step=step, party=party,
                            what=f"material spec {row['code'] or row['description'][:60]}",
                            parties=await queries.parties(conn, row), actor_id=who.user_id)
    return json_response(shape(row, who.role))


@routes.post("/api/v1/material-specs/{id}/delivery")
@doc(summary="Move a spec's delivery status on (ordered -> in_fabrication -> shipped -> "
     "delivered -> received), once the workflow has ordered it", body=DeliveryIn,
     response=SpecOut, errors=[403, 409, 412], tags=["material-specs"])
async def deliver_material_spec(request: web.Request) -> web.Response:
    spec_id = path_id(request)
    who = identity(request)
    require(who.role, Perm.MANAGE_MATERIALS)
    body = await read_body(request, DeliveryIn)
    procurement_rules.check_dates(body.model_dump())
    async with writes(request) as conn:
        current = await locked(conn, TABLE, spec_id, if_match(request))
        procurement_rules.check_delivery(current["status"], current["delivery_status"],
                                         body.delivery_status)
        cal = await calendar.for_project(conn, current["project_id"])
        today = calendar.today_in(cal)
        day = body.on or today
        if day > today:
            raise Invalid("A delivery step is recorded when it has happened",
                          code="date_in_future",
                          errors=[{"field": "on", "message": "in the future"}])
        values: dict[str, Any] = {"delivery_status": body.delivery_status,
                                  f"{body.delivery_status}_on": day}
        if body.expected_delivery_on is not None:
            values["expected_delivery_on"] = body.expected_delivery_on
        values |= await procurement.with_flags(conn, current["project_id"],
                                               {**current, **values}, current["risk_reasons"])
        row = await rows.update_locked(conn, TABLE, spec_id, values)
        await procurement.tell(conn, row, current["risk_reasons"])
    return json_response(shape(row, who.role))
