"""Scope items: the priced lines of a bill of works, each in a scope group."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import asyncpg
import pydantic
from aiohttp import web

from db.pool import transaction
from db.queries import rows
from db.queries import scope_items as queries
from rules.enums import SCOPE_STATUSES
from server.audience import shaper, shown
from server.auth.identity import actor, identity
from server.auth.permissions import Perm, require
from server.auth.session_copies import confirmed_in_database
from server.cache.reads import reads_record, record_response
from server.errors import Invalid
from server.exports.route import exportable
from server.fields import (
    LongText,
    Money,
    MoneyOut,
    Name,
    OneOf,
    Quantity,
    RecordOut,
    ShortText,
    Unit,
    check_dates,
    line_total,
)
from server.keys import POOL
from server.openapi import doc
from server.records import delete_one, locked, path_id, provided, visible_project
from server.rest import PageParams, idempotent, if_match, json_response, keyset, record, sortable
from server.validation import ApiModel, read_body, read_query
from server.writes import writes

routes = web.RouteTableDef()
TABLE = "scope_items"
Status = Annotated[str, OneOf(SCOPE_STATUSES)]
SORTABLE = sortable(created_at="timestamptz", updated_at="timestamptz", name="text",
                     status="text")


class ScopeItemFields(ApiModel):
    description: LongText | None = None
    category: ShortText | None = None
    code: ShortText | None = None
    quantity: Quantity | None = None
    unit: Unit | None = None
    unit_price: Money | None = None
    completion: int | None = pydantic.Field(None, ge=0, le=100)
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    notes: LongText | None = None

    @pydantic.model_validator(mode="after")
    def _dates(self) -> ScopeItemFields:
        check_dates(self.start_date, self.end_date, "end_date")
        return self


class ScopeItemIn(ScopeItemFields):
    project_id: uuid.UUID
    scope_group_id: uuid.UUID
    name: Name
    status: Status = "pending"


class ScopeItemPatch(ScopeItemFields):
    scope_group_id: uuid.UUID | None = None
    name: Name | None = None
    status: Status | None = None
    NOT_NULL = ("scope_group_id", "name", "status", "completion")


class ScopeItemQuery(PageParams):
    project_id: uuid.UUID | None = None
    scope_group_id: uuid.UUID | None = None
    status: Status | None = None
    category: ShortText | None = None


class ScopeItemOut(RecordOut):
    org_id: uuid.UUID
    project_id: uuid.UUID
    scope_group_id: uuid.UUID
    code: str | None
    name: str
    description: str | None
    category: str | None
    quantity: MoneyOut | None
    unit: str | None
    # Internal costs: absent for client users.
    unit_price: MoneyOut | None = None
    total_price: MoneyOut | None = None
    status: str
    completion: int
    dependencies: list[uuid.UUID]
    start_date: dt.date | None
    end_date: dt.date | None
    notes: str | None
    legacy_id: str | None
    # The records linked to this item (their `scope_item_ids` name it).
    task_ids: list[uuid.UUID]
    shop_drawing_ids: list[uuid.UUID]
    material_spec_ids: list[uuid.UUID]
    # Every linked shop drawing approved and every linked material spec delivered (kept by
    # the database from the links: GET /projects/{id}/readiness says what blocks it).
    production_ready: bool


async def _check_group(conn: asyncpg.Connection, group_id: uuid.UUID,
                       project_id: uuid.UUID) -> None:
    if await queries.group_project(conn, group_id) != project_id:
        raise Invalid("The scope group is not part of this project",
                      errors=[{"field": "scope_group_id", "message": "not in this project"}])


def _with_total(values: dict[str, Any], current: Any = None) -> dict[str, Any]:
    """Add total_price = quantity x unit_price when either of them is being set."""
    if current is not None and not {"quantity", "unit_price"} & values.keys():
        return values
    merged = {**(dict(current) if current is not None else {}), **values}
    total = line_total(merged.get("quantity"), merged.get("unit_price"), "total_price")
    return {**values, "total_price": total}


@routes.get("/api/v1/scope-items")
@exportable("scope_items")
@doc(summary="List scope items (client users: without prices)", query=ScopeItemQuery,
     response=ScopeItemOut, many=True, errors=[404], tags=["scope-items"])
async def list_scope_items(request: web.Request) -> web.Response:
    query = read_query(request.query, ScopeItemQuery)
    page = keyset(query, SORTABLE, "created_at")
    filters = query.model_dump(include={"project_id", "scope_group_id", "status", "category"})
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        if query.project_id is not None:
            await visible_project(conn, query.project_id)
        found = await queries.list_scope_items(conn, page, filters)
    return json_response(page.page(found, shaper(request, TABLE)))


@routes.post("/api/v1/scope-items")
@doc(summary="Create a scope item (total_price = quantity x unit_price)", body=ScopeItemIn,
     response=ScopeItemOut, status=201, errors=[403, 404, 409], tags=["scope-items"])
@idempotent
async def create_scope_item(request: web.Request) -> web.Response:
    require(identity(request).role, Perm.MANAGE_SCOPE)
    body = await read_body(request, ScopeItemIn)
    values = _with_total(body.model_dump(exclude_none=True))
    async with writes(request) as conn:
        project = await visible_project(conn, body.project_id)
        await _check_group(conn, body.scope_group_id, body.project_id)
        row = await rows.insert_row(conn, TABLE, {**values, "org_id": project["org_id"]})
    return json_response(shown(request, TABLE, record(row)), status=201)


@routes.get("/api/v1/scope-items/{id}")
@doc(summary="One scope item", response=ScopeItemOut, tags=["scope-items"])
@reads_record("scope_items")
async def get_scope_item(request: web.Request) -> web.Response:
    item_id = path_id(request)
    return await record_response(request, "scope_items", item_id, queries.get_scope_item,
                                 "No such scope item")


@routes.patch("/api/v1/scope-items/{id}")
@doc(summary="Change a scope item", body=ScopeItemPatch, response=ScopeItemOut,
     errors=[403, 409, 412], tags=["scope-items"])
@confirmed_in_database
async def update_scope_item(request: web.Request) -> web.Response:
    item_id = path_id(request)
    require(identity(request).role, Perm.MANAGE_SCOPE)
    changes = provided(await read_body(request, ScopeItemPatch))
    async with writes(request) as conn:
        current = await locked(conn, TABLE, item_id, if_match(request))
        if "scope_group_id" in changes:
            await _check_group(conn, changes["scope_group_id"], current["project_id"])
        row = await rows.update_locked(conn, TABLE, item_id, _with_total(changes, current))
    return json_response(shown(request, TABLE, record(row)))


@routes.delete("/api/v1/scope-items/{id}")
@doc(summary="Delete a scope item", status=204, errors=[403, 412], tags=["scope-items"])
@confirmed_in_database
async def delete_scope_item(request: web.Request) -> web.Response:
    item_id = path_id(request)
    require(identity(request).role, Perm.MANAGE_SCOPE)
    return await delete_one(request, TABLE, item_id)
