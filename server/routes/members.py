"""/api/v1/projects/{id}/members: who is on a project (and so who sees it)."""

from __future__ import annotations

import uuid
from typing import Literal

import asyncpg
import pydantic
from aiohttp import web

from db.pool import transaction
from db.queries import members as queries
from db.queries.comments import author_name
from db.queries.notifications import notify
from db.queries.projects import org_user
from rules.enums import ROLES
from rules.mentions import snippet
from server.auth.identity import actor, identity
from server.auth.permissions import Perm, require
from server.errors import Conflict, Invalid, NotFound
from server.exports.route import exportable
from server.fields import Email, RecordOut, field_error
from server.keys import POOL
from server.openapi import doc
from server.records import check_version, path_id, visible_project
from server.rest import PageParams, idempotent, if_match, json_response, keyset, sortable
from server.validation import ApiModel, read_body, read_query
from server.writes import writes

routes = web.RouteTableDef()

MemberRole = Literal[ROLES]  # type: ignore[valid-type]
SORTABLE = sortable(created_at="timestamptz")


class MemberCreate(ApiModel):
    """The user is named by id or by e-mail address (one of the two)."""

    model_config = pydantic.ConfigDict(json_schema_extra={"oneOf": [
        {"required": ["user_id"], "properties": {"user_id": {"type": "string"}}},
        {"required": ["email"], "properties": {"email": {"type": "string"}}}]})
    user_id: uuid.UUID | None = None
    email: Email | None = None
    role: MemberRole | None = None

    @pydantic.model_validator(mode="after")
    def _one_user(self) -> MemberCreate:
        if self.user_id is None and self.email is None:
            raise field_error("user_id", "required (or email)")
        if self.user_id is not None and self.email is not None:
            raise field_error("email", "give user_id or email, not both")
        return self


class MemberPatch(ApiModel):
    role: MemberRole


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
@exportable("project_members")
@doc(summary="Members of a project", query=PageParams, response=MemberOut, many=True)
async def list_members(request: web.Request) -> web.Response:
    project_id = path_id(request)
    page = keyset(read_query(request.query, PageParams), SORTABLE, "created_at")
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        await visible_project(conn, project_id)
        rows = await queries.list_members(conn, project_id, page)
    return json_response(page.page(rows))


async def _new_member(conn: asyncpg.Connection, body: MemberCreate) -> asyncpg.Record:
    """The organisation's user the body names; 422 on the field that named nobody (another
    organisation's users are nobody here)."""
    if body.email is not None:
        user = await queries.org_user_by_email(conn, body.email)
        field = "email"
    else:
        assert body.user_id is not None
        user = await org_user(conn, body.user_id)
        field = "user_id"
    if user is None:
        raise Invalid("No such user in this organisation",
                      errors=[{"field": field, "message": "no such user"}])
    return user


async def _locked_member(conn: asyncpg.Connection, project_id: uuid.UUID,
                         user_id: uuid.UUID, expected: int | None) -> None:
    """Lock the member row: 404 when there is none, 412 when If-Match names another version."""
    current = await queries.lock_member(conn, project_id, user_id)
    if current is None:
        raise NotFound("No such member")
    check_version(current, expected)


@routes.post("/api/v1/projects/{id}/members")
@doc(summary="Add a member by user_id or email (role defaults to the user's role)",
     body=MemberCreate, response=MemberOut, status=201, errors=[403, 409])
@idempotent
async def add_member(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.MANAGE_MEMBERS)
    project_id = path_id(request)
    body = await read_body(request, MemberCreate)
    async with writes(request) as conn:
        await visible_project(conn, project_id)
        user = await _new_member(conn, body)
        if await queries.is_member(conn, project_id, user["id"]):
            field = "email" if body.email is not None else "user_id"
            raise Conflict("The user is already a member", code="duplicate",
                           errors=[{"field": field, "message": "already a member"}])
        await queries.add_member(conn, org_id=who.org_id, project_id=project_id,
                                 user_id=user["id"], role=body.role or user["role"])
        row = await queries.get_member(conn, project_id, user["id"])
    assert row is not None
    return json_response(dict(row), status=201)


@routes.patch("/api/v1/projects/{id}/members/{user_id}")
@doc(summary="Change a member's role on the project", body=MemberPatch, response=MemberOut,
     errors=[403, 412])
async def change_member(request: web.Request) -> web.Response:
    require(identity(request).role, Perm.MANAGE_MEMBERS)
    project_id, user_id = path_id(request), path_id(request, "user_id")
    version = if_match(request)
    body = await read_body(request, MemberPatch)
    async with writes(request) as conn:
        await _locked_member(conn, project_id, user_id, version)
        await queries.set_role(conn, project_id, user_id, body.role)
        row = await queries.get_member(conn, project_id, user_id)
    assert row is not None
    return json_response(dict(row))


@routes.delete("/api/v1/projects/{id}/members/{user_id}")
@doc(summary="Remove a member (their tasks on the project are unassigned)", status=204,
     errors=[403, 412])
async def remove_member(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.MANAGE_MEMBERS)
    project_id, user_id = path_id(request), path_id(request, "user_id")
    version = if_match(request)
    async with writes(request) as conn:
        await _locked_member(conn, project_id, user_id, version)
        # Before the delete: the actor may be removing themselves and lose sight of the
        # project's tasks with it.
        project = await visible_project(conn, project_id)
        unassigned = await queries.unassign_tasks(conn, project_id, user_id)
        await queries.remove_member(conn, project_id, user_id, None)
        manager = project["project_manager_id"]
        if unassigned and manager not in (None, who.user_id, user_id):
            await _tell_manager(conn, project, manager, user_id, unassigned)
    return web.Response(status=204)


async def _tell_manager(conn: asyncpg.Connection, project: asyncpg.Record,
                        manager: uuid.UUID, user_id: uuid.UUID,
                        tasks: list[asyncpg.Record]) -> None:
    """The project's manager learns which tasks lost their assignee."""
    name = await author_name(conn, user_id)
    count = f"{len(tasks)} task{'s' if len(tasks) != 1 else ''}"
    await notify(
        conn, org_id=project["org_id"], user_ids=[manager], project_id=project["id"],
        kind="member_removed", title=f"{name} left the project; {count} unassigned",
        message=snippet(", ".join(t["name"] for t in tasks)),
        data={"user_id": str(user_id), "task_ids": [str(t["id"]) for t in tasks]})
