"""Scope groups: the sections (construction, millwork, electric, mep...) of a bill of works."""

from __future__ import annotations

import uuid

import pydantic
from aiohttp import web

from db.pool import transaction
from db.queries import rows
from db.queries import scope_groups as queries
from server.auth.identity import actor, identity
from server.auth.permissions import Perm, require
from server.errors import Conflict
from server.exports.route import exportable
from server.fields import LongText, Name, RecordOut
from server.keys import POOL
from server.openapi import doc
from server.records import locked, path_id, provided, read_one, visible_project
from server.rest import PageParams, idempotent, if_match, json_response, keyset, record, sortable
from server.validation import ApiModel, read_body, read_query
from server.writes import writes

routes = web.RouteTableDef()
TABLE = "scope_groups"
SORTABLE = sortable(order_index="int", name="text", created_at="timestamptz",
                     updated_at="timestamptz")


class ScopeGroupIn(ApiModel):
    project_id: uuid.UUID
    name: Name
    description: LongText | None = None
    order_index: int = pydantic.Field(0, ge=0, le=1_000_000)


class ScopeGroupPatch(ApiModel):
    name: Name | None = None
    description: LongText | None = None
    order_index: int | None = pydantic.Field(None, ge=0, le=1_000_000)
    NOT_NULL = ("name", "order_index")


class ScopeGroupQuery(PageParams):
    project_id: uuid.UUID | None = None


class ScopeGroupOut(RecordOut):
    org_id: uuid.UUID
    project_id: uuid.UUID
    name: str
    description: str | None
    order_index: int


@routes.get("/api/v1/scope-groups")
@exportable("scope_groups")
@doc(summary="List scope groups", query=ScopeGroupQuery, response=ScopeGroupOut, many=True,
     errors=[404], tags=["scope-groups"])
async def list_scope_groups(request: web.Request) -> web.Response:
    query = read_query(request.query, ScopeGroupQuery)
    page = keyset(query, SORTABLE, "order_index")
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        if query.project_id is not None:
            await visible_project(conn, query.project_id)
        found = await queries.list_scope_groups(conn, page,
                                                query.model_dump(include={"project_id"}))
    return json_response(page.page(found))


@routes.post("/api/v1/scope-groups")
@doc(summary="Create a scope group", body=ScopeGroupIn, response=ScopeGroupOut, status=201,
     errors=[403, 404, 409], tags=["scope-groups"])
@idempotent
async def create_scope_group(request: web.Request) -> web.Response:
    require(identity(request).role, Perm.MANAGE_SCOPE)
    body = await read_body(request, ScopeGroupIn)
    async with writes(request) as conn:
        project = await visible_project(conn, body.project_id)
        row = await rows.insert_row(conn, TABLE, {**body.model_dump(), "org_id": project["org_id"]})
    return json_response(record(row), status=201)


@routes.get("/api/v1/scope-groups/{id}")
@doc(summary="One scope group", response=ScopeGroupOut, tags=["scope-groups"])
async def get_scope_group(request: web.Request) -> web.Response:
    row = await read_one(request, TABLE, path_id(request), queries.get_scope_group)
    return json_response(record(row))


@routes.patch("/api/v1/scope-groups/{id}")
@doc(summary="Change a scope group", body=ScopeGroupPatch, response=ScopeGroupOut,
     errors=[403, 409, 412], tags=["scope-groups"])
async def update_scope_group(request: web.Request) -> web.Response:
    group_id = path_id(request)
    require(identity(request).role, Perm.MANAGE_SCOPE)
    changes = provided(await read_body(request, ScopeGroupPatch))
    async with writes(request) as conn:
        await locked(conn, TABLE, group_id, if_match(request))
        row = await rows.update_locked(conn, TABLE, group_id, changes)
    return json_response(record(row))


@routes.delete("/api/v1/scope-groups/{id}")
@doc(summary="Delete a scope group (409 while it has items)", status=204,
     errors=[403, 409, 412], tags=["scope-groups"])
async def delete_scope_group(request: web.Request) -> web.Response:
    group_id = path_id(request)
    require(identity(request).role, Perm.MANAGE_SCOPE)
    async with writes(request) as conn:
        await locked(conn, TABLE, group_id, if_match(request))
        if await queries.count_items(conn, group_id):
            raise Conflict("The scope group still has items; move or delete them first",
                           code="scope_group_not_empty")
        await rows.delete_row(conn, TABLE, group_id)
    return web.Response(status=204)
