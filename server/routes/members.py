"""/api/v1/projects/{id}/members: who is on a project (and so who sees it)."""

from __future__ import annotations

import uuid
from typing import Literal

import pydantic
from aiohttp import web

from db.pool import transaction
from db.queries import members as queries
from db.queries.projects import is_visible, org_user
from db.schema import ROLES
from server.auth.identity import actor, identity
from server.auth.permissions import Perm, require
from server.errors import Conflict, Invalid, NotFound, PreconditionFailed
from server.fields import RecordOut, path_uuid
from server.keys import POOL
from server.openapi import doc
from server.rest import PageParams, SortKey, etag, idempotent, if_match, json_response, keyset
from server.validation import ApiModel, read_body, read_query

routes = web.RouteTableDef()

MemberRole = Literal[ROLES]  # type: ignore[valid-type]
SORTABLE = {"created_at": SortKey("created_at", "timestamptz")}


class MemberCreate(ApiModel):
    user_id: uuid.UUID
    role: MemberRole | None = None


class MemberUser(pydantic.BaseModel):
    id: uuid.UUID
    first_name: str
    last_name: str
    email: str
    role: MemberRole


class MemberOut(RecordOut):
    org_id: uuid.UUID
    project_id: uuid.UUID
    user_id: uuid.UUID
    role: MemberRole
    user: MemberUser


@routes.get("/api/v1/projects/{id}/members")
@doc(summary="Members of a project", query=PageParams, response=MemberOut, many=True)
async def list_members(request: web.Request) -> web.Response:
    project_id = path_uuid(request)
    page = keyset(read_query(request.query, PageParams), SORTABLE, "created_at")
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        if not await is_visible(conn, project_id):
            raise NotFound("No such project")
        rows = await queries.list_members(conn, project_id, page)
    return json_response(page.page(rows))


@routes.post("/api/v1/projects/{id}/members")
@doc(summary="Add a member (role defaults to the user's role)", body=MemberCreate,
     response=MemberOut, status=201)
@idempotent
async def add_member(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.MANAGE_MEMBERS)
    project_id = path_uuid(request)
    body = await read_body(request, MemberCreate)
    async with transaction(request.app[POOL], await actor(request)) as conn:
        if not await is_visible(conn, project_id):
            raise NotFound("No such project")
        user = await org_user(conn, body.user_id)
        if user is None:
            raise Invalid("No such user in this organisation",
                          errors=[{"field": "user_id", "message": "no such user"}])
        if await queries.is_member(conn, project_id, body.user_id):
            raise Conflict("The user is already a member", code="duplicate",
                           errors=[{"field": "user_id", "message": "already a member"}])
        await queries.add_member(conn, org_id=who.org_id, project_id=project_id,
                                 user_id=body.user_id, role=body.role or user["role"])
        row = await queries.get_member(conn, project_id, body.user_id)
    assert row is not None
    return json_response(dict(row), status=201)


@routes.delete("/api/v1/projects/{id}/members/{user_id}")
@doc(summary="Remove a member", status=204)
async def remove_member(request: web.Request) -> web.Response:
    require(identity(request).role, Perm.MANAGE_MEMBERS)
    project_id, user_id = path_uuid(request), path_uuid(request, "user_id")
    version = if_match(request)
    async with transaction(request.app[POOL], await actor(request)) as conn:
        if not await queries.remove_member(conn, project_id, user_id, version):
            current = await queries.member_version(conn, project_id, user_id)
            if current is None:
                raise NotFound("No such member")
            raise PreconditionFailed(f"The record has changed (current version {current})",
                                     extra={"current_version": current},
                                     headers={"ETag": etag(current)})
    return web.Response(status=204)
