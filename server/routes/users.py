"""Users of an organisation: everyone reads colleagues, only org admins manage them."""

from __future__ import annotations

import uuid
from typing import Literal

import asyncpg
import pydantic
from aiohttp import web

from db.pool import system_transaction, transaction
from db.queries import clients
from db.queries import users as q
from db.queries.events import record_event
from rules.enums import ROLES
from server.auth.identity import actor, identity
from server.auth.invitations import create_token, set_password_link
from server.auth.passwords import check_policy, hash_password
from server.auth.permissions import Perm, require
from server.auth.sessions import identity_changed, revoke_user_sessions
from server.auth.users import UserOut, user_json
from server.errors import Conflict, Invalid, NotFound
from server.exports.route import exportable
from server.fields import Email, Name, Phone, Secret, ShortText, Tag
from server.keys import MAILER, POOL, SETTINGS
from server.mailer import Mail, MailHeaderError, check_header
from server.openapi import doc
from server.records import path_id, read_one, written
from server.rest import PageParams, idempotent, if_match, json_response, keyset, sortable
from server.validation import ApiModel, read_body, read_query
from server.writes import invalidation, writes

routes = web.RouteTableDef()

Role = Literal["admin", "project_manager", "designer", "coordinator", "craftsman", "client"]
SORTABLE = sortable(created_at="timestamptz", email="text", last_name="text")
assert set(Role.__args__) == set(ROLES)  # type: ignore[attr-defined]


class UserCreate(ApiModel):
    email: Email
    password: Secret | None = None
    first_name: Name
    last_name: Name
    role: Role
    client_id: uuid.UUID | None = None
    position: ShortText | None = None
    department: ShortText | None = None
    phone: Phone | None = None


class UserUpdate(ApiModel):
    NOT_NULL = ("first_name", "last_name", "role", "status", "skills")  # NOT NULL columns
    first_name: Name | None = None
    last_name: Name | None = None
    role: Role | None = None
    status: Literal["active", "inactive"] | None = None
    client_id: uuid.UUID | None = None
    position: ShortText | None = None
    department: ShortText | None = None
    phone: Phone | None = None
    skills: list[Tag] | None = None


class InviteOut(pydantic.BaseModel):
    status: Literal["sent"]
    email: str


class UserQuery(PageParams):
    role: Role | None = None
    status: Literal["active", "invited", "inactive"] | None = None


async def _check_client(conn: asyncpg.Connection, role: str | None,
                        client_id: uuid.UUID | None) -> None:
    """A `client` user must name a client of the same organisation; staff must not."""
    if role == "client" and client_id is None:
        raise Invalid("A client user must name its client",
                      errors=[{"field": "client_id", "message": "required for role client"}])
    if role not in (None, "client") and client_id is not None:
        raise Invalid("Only client users belong to a client",
                      errors=[{"field": "client_id", "message": "only for role client"}])
    if client_id is not None and await clients.get_client(conn, client_id) is None:
        raise Invalid("No such client", errors=[{"field": "client_id",
                                                 "message": "does not exist"}])


@routes.get("/api/v1/users")
@exportable("users")
@doc(summary="Colleagues in your organisation", query=UserQuery, response=UserOut, many=True,
     tags=["users"])
async def list_users(request: web.Request) -> web.Response:
    query = read_query(request.query, UserQuery)
    page = keyset(query, SORTABLE, "last_name")
    filters = query.model_dump(include={"role", "status"})
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        rows = await q.list_users(conn, page, filters)
    return json_response(page.page(rows, user_json))


@routes.get("/api/v1/users/{user_id}")
@doc(summary="One colleague", response=UserOut, tags=["users"])
async def get_user(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    return json_response(user_json(await read_one(request, "users", user_id, q.get)))


@routes.post("/api/v1/users")
@doc(summary="Create a user (admins); without a password the user is invited", body=UserCreate,
     response=UserOut, status=201, errors=[403, 409], tags=["users"])
@idempotent
async def create_user(request: web.Request) -> web.Response:
    require(identity(request).role, Perm.MANAGE_USERS)
    body = await read_body(request, UserCreate)
    password_hash = None
    if body.password is not None:
        check_policy(body.password, email=body.email)
        password_hash = await hash_password(body.password)
    pool = request.app[POOL]
    async with system_transaction(pool) as conn:
        if await q.email_taken(conn, body.email):
            raise Conflict("A user with this e-mail already exists", code="duplicate",
                           errors=[{"field": "email", "message": "already exists"}])
    async with writes(request) as conn:
        await _check_client(conn, body.role, body.client_id)
        row = await q.create(conn, identity(request).org_id, body.model_dump(), password_hash)
    return json_response(user_json(row), status=201)


@routes.patch("/api/v1/users/{user_id}")
@doc(summary="Change a user (admins); role, status or client changes end their sessions",
     body=UserUpdate, response=UserOut, errors=[403, 409, 412], tags=["users"])
async def update_user(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.MANAGE_USERS)
    body = await read_body(request, UserUpdate)
    user_id = path_id(request, "user_id")
    changes = body.model_dump(exclude_unset=True)
    if user_id == who.user_id and ({"role", "status"} & changes.keys()):
        raise Conflict("Admins cannot change their own role or status",
                       code="self_demotion")
    act = await actor(request)
    async with transaction(request.app[POOL], act, on_commit=invalidation(request)) as conn:
        before = await q.get(conn, user_id)
        if before is None:
            raise NotFound("No such user")
        role = changes.get("role", before["role"])
        client_id = changes.get("client_id", before["client_id"])
        if role != "client" and "role" in changes and "client_id" not in changes:
            client_id = changes["client_id"] = None
        await _check_client(conn, role, client_id)
        row = await written(conn, "users", user_id,
                            await q.update(conn, user_id, changes, if_match(request)))
    if identity_changed(before, row):  # role, status or client company: as a new user
        await revoke_user_sessions(request.app, user_id, "identity changed", act)
    return json_response(user_json(row))


@routes.delete("/api/v1/users/{user_id}")
@doc(summary="Deactivate a user (admins)", status=204, errors=[403, 409, 412], tags=["users"])
async def deactivate_user(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.MANAGE_USERS)
    user_id = path_id(request, "user_id")
    if user_id == who.user_id:
        raise Conflict("Admins cannot deactivate themselves", code="self_demotion")
    act = await actor(request)
    async with transaction(request.app[POOL], act, on_commit=invalidation(request)) as conn:
        await written(conn, "users", user_id,
                      await q.update(conn, user_id, {"status": "inactive"}, if_match(request)))
    await revoke_user_sessions(request.app, user_id, "deactivated", act)
    return web.Response(status=204)


def _mailable(email: str) -> None:
    """422 for a stored address no mail can be addressed to (saved before addresses were
    checked), before a token is made: the mailer would refuse it."""
    try:
        check_header("To", email)
    except MailHeaderError as exc:
        raise Invalid("The user's e-mail address cannot receive mail", errors=[
            {"field": "email", "message": "contains control characters"}]) from exc


@routes.post("/api/v1/users/{user_id}/invite")
@doc(summary="Mail a one-time invitation link (admins)", response=InviteOut, status=202,
     errors=[403, 409, 422], tags=["users"])
async def invite_user(request: web.Request) -> web.Response:
    require(identity(request).role, Perm.MANAGE_USERS)
    user_id = path_id(request, "user_id")
    pool = request.app[POOL]
    async with transaction(pool, await actor(request), readonly=True) as conn:
        user = await q.get(conn, user_id)
    if user is None:
        raise NotFound("No such user")
    if user["status"] == "inactive":
        raise Conflict("The user is deactivated", code="user_inactive")
    _mailable(user["email"])
    act = await actor(request)
    async with system_transaction(pool, act, on_commit=invalidation(request)) as conn:
        token = await create_token(conn, user_id, "invite")
        await record_event(conn, "invitation_sent", org_id=user["org_id"], user_id=act.user_id,
                           table="users", record_id=user_id)
    link = set_password_link(request.app[SETTINGS], token)
    await request.app[MAILER].send(Mail(
        to=user["email"], subject="You are invited to Formula PM",
        body=f"Set your password to sign in (the link works once, for 7 days):\n\n{link}\n"))
    return json_response({"status": "sent", "email": user["email"]}, status=202)
