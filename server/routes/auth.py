"""Sign-in, token refresh, sign-out, the signed-in user, password change and reset."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import pydantic
from aiohttp import web

from db.pool import Actor, system_transaction, transaction
from db.queries import sessions
from db.queries import users as q
from db.queries.events import record_event
from server.auth import limits
from server.auth.identity import actor, client_ip, identity
from server.auth.invitations import consume_token, create_token, set_password_link
from server.auth.passwords import check_policy, hash_password, upgraded_hash, verify_password
from server.auth.sessions import (
    after_revoke,
    record_revoked,
    refresh_session,
    revoke_session,
    revoke_user_sessions,
    start_session,
)
from server.auth.users import LoginOut, TokensOut, UserOut, user_json
from server.errors import REQUEST_ID, Invalid, Unauthorized
from server.fields import LoginEmail, Name, Phone, Secret, ShortText
from server.keys import BACKGROUND, MAILER, POOL, SETTINGS
from server.mailer import Mail, MailHeaderError, check_header
from server.openapi import doc
from server.prometheus import count_auth_failure
from server.rest import json_response
from server.system_events import email_fingerprint
from server.text import ONE_LINE
from server.validation import ApiModel, read_body
from server.writes import invalidation, writes

routes = web.RouteTableDef()
log = logging.getLogger("formula_pm.auth")

Token = Annotated[str, pydantic.StringConstraints(min_length=1, max_length=512), ONE_LINE]


class LoginBody(ApiModel):
    email: LoginEmail
    password: Secret


class RefreshBody(ApiModel):
    refresh_token: Token


class ProfileBody(ApiModel):
    NOT_NULL = ("first_name", "last_name")
    first_name: Name | None = None
    last_name: Name | None = None
    position: ShortText | None = None
    department: ShortText | None = None
    phone: Phone | None = None


class ChangePasswordBody(ApiModel):
    current_password: Secret
    new_password: Secret


class ResetRequestBody(ApiModel):
    email: LoginEmail


class ResetConfirmBody(ApiModel):
    token: Token
    new_password: Secret


def _anonymous_actor(request: web.Request, user: Any = None) -> Actor:
    return Actor(
        user_id=user["id"] if user else None, org_id=user["org_id"] if user else None,
        request_id=request.get(REQUEST_ID), ip=client_ip(request),
        user_agent=request.headers.get("User-Agent"),
    )


def _failed_login_details(request: web.Request, email: str, user: Any) -> dict[str, str]:
    """An account's own address; for an address nobody has, only its keyed fingerprint
    (people type passwords into the e-mail field)."""
    if user is not None:
        return {"email": email}
    return {"email_hmac": email_fingerprint(request.app[SETTINGS].jwt_secret, email)}


@routes.post("/api/v1/auth/login")
@doc(summary="Sign in", body=LoginBody, response=LoginOut, errors=[401, 429], tags=["auth"])
async def login(request: web.Request) -> web.Response:
    body = await read_body(request, LoginBody)
    email = body.email.lower()
    ip = client_ip(request)
    await limits.check_address(request.app, ip)
    pool = request.app[POOL]
    async with system_transaction(pool) as conn:
        user = await q.for_login(conn, email)
    who = limits.SignIn.of(email, user["id"] if user else None, ip)
    await limits.check_sign_in(request.app, who)
    # The same work and the same answer for an unknown e-mail and a wrong password.
    ok = await verify_password(user["password_hash"] if user else None, body.password)
    if not ok or user is None or user["status"] != "active":
        await limits.sign_in_failed(request.app, who)
        count_auth_failure(request.app, "invalid_credentials")
        async with system_transaction(pool, _anonymous_actor(request, user)) as conn:
            await record_event(conn, "login_failed", org_id=user["org_id"] if user else None,
                               user_id=user["id"] if user else None,
                               details=_failed_login_details(request, email, user))
        raise Unauthorized("Invalid e-mail or password", code="invalid_credentials")
    await limits.sign_in_succeeded(request.app, who)
    pair = await start_session(request.app, user_id=user["id"], org_id=user["org_id"],
                               role=user["role"], ip=ip,
                               user_agent=request.headers.get("User-Agent"))
    stronger = await upgraded_hash(user["password_hash"], body.password)
    async with system_transaction(pool, _anonymous_actor(request, user)) as conn:
        await q.touch_login(conn, user["id"])
        if stronger is not None:
            await q.upgrade_password_hash(conn, user["id"], user["password_hash"], stronger)
        await record_event(conn, "login", org_id=user["org_id"], user_id=user["id"],
                           details={"session_id": str(pair.session_id)})
    return json_response({**pair.as_json(), "user": user_json(user)})


@routes.post("/api/v1/auth/refresh")
@doc(summary="Rotate the refresh token for a new pair", body=RefreshBody, response=TokensOut,
     errors=[401], tags=["auth"])
async def refresh(request: web.Request) -> web.Response:
    body = await read_body(request, RefreshBody)
    pair = await refresh_session(request.app, body.refresh_token, _anonymous_actor(request))
    return json_response(pair.as_json())


@routes.post("/api/v1/auth/logout")
@doc(summary="Sign out: revoke this session", status=204, tags=["auth"])
async def logout(request: web.Request) -> web.Response:
    who = identity(request)
    act = await actor(request)
    await revoke_session(request.app, who.session_id, who.user_id, "logout", act)
    async with system_transaction(request.app[POOL], act, on_commit=invalidation(request)) as conn:
        await record_event(conn, "logout", org_id=who.org_id, user_id=who.user_id,
                           details={"session_id": str(who.session_id)})
    return web.Response(status=204)


@routes.get("/api/v1/auth/me")
@doc(summary="The signed-in user", response=UserOut, tags=["auth"])
async def me(request: web.Request) -> web.Response:
    who = identity(request)
    async with transaction(request.app[POOL], await actor(request)) as conn:
        row = await q.get(conn, who.user_id)
    if row is None:
        raise Unauthorized("Invalid or expired token", code="invalid_token")
    return json_response(user_json(row))


@routes.patch("/api/v1/auth/me")
@doc(summary="Change your own profile", body=ProfileBody, response=UserOut, tags=["auth"])
async def update_me(request: web.Request) -> web.Response:
    body = await read_body(request, ProfileBody)
    who = identity(request)
    changes = body.model_dump(exclude_unset=True)
    if any(changes.get(k) is None for k in ProfileBody.NOT_NULL if k in changes):
        raise Invalid("Names cannot be empty", errors=[
            {"field": k, "message": "required"} for k in ProfileBody.NOT_NULL
            if k in changes and changes[k] is None])
    async with writes(request) as conn:
        row = await q.update(conn, who.user_id, changes, None)
    assert row is not None
    return json_response(user_json(row))


@routes.post("/api/v1/auth/change-password")
@doc(summary="Change your password (other sessions end)", body=ChangePasswordBody, status=204,
     errors=[429], tags=["auth"])
async def change_password(request: web.Request) -> web.Response:
    body = await read_body(request, ChangePasswordBody)
    who = identity(request)
    act = await actor(request)
    pool = request.app[POOL]
    ip = client_ip(request)
    await limits.check_password_change(request.app, who.user_id, ip)
    async with system_transaction(pool) as conn:
        stored = await q.password_hash_of(conn, who.user_id)
    if not await verify_password(stored, body.current_password):
        await limits.password_change_failed(request.app, who.user_id, ip)
        count_auth_failure(request.app, "wrong_current_password")
        async with system_transaction(pool, act) as conn:
            await record_event(conn, "password_change_failed", org_id=who.org_id,
                               user_id=who.user_id, table="users", record_id=who.user_id)
        raise Invalid("The current password is wrong",
                      errors=[{"field": "current_password", "message": "does not match"}])
    await limits.password_change_succeeded(request.app, who.user_id)
    check_policy(body.new_password, field="new_password", email=who.email)
    new_hash = await hash_password(body.new_password)
    async with system_transaction(pool, act, on_commit=invalidation(request)) as conn:
        await q.set_password(conn, who.user_id, new_hash)
        others = await sessions.revoke_all_for_user(conn, who.user_id, "password changed",
                                                    keep=who.session_id)
        await record_revoked(conn, who.user_id, "password changed", others, who.user_id)
    await after_revoke(request.app, who.user_id, others)
    return web.Response(status=204)


@routes.post("/api/v1/auth/password-reset/request")
@doc(summary="Mail a one-time reset link (always 202)", body=ResetRequestBody, status=202,
     errors=[429], tags=["auth"])
async def request_reset(request: web.Request) -> web.Response:
    body = await read_body(request, ResetRequestBody)
    await limits.check_reset_request(request.app, client_ip(request))
    # Everything that depends on whether the account exists happens after the answer, so
    # neither the answer nor its timing tells.
    if await limits.reset_mail_allowed(request.app, body.email):
        request.app[BACKGROUND].spawn(
            mail_reset_link(request.app, body.email.lower(), _anonymous_actor(request)),
            name="password-reset-mail")
    return web.Response(status=202)


async def mail_reset_link(app: web.Application, email: str, act: Actor) -> None:
    """Create a reset token for the account of `email` (if any, and not deactivated) and
    mail it."""
    async with system_transaction(app[POOL], act) as conn:
        user = await q.for_login(conn, email)
        if user is None or user["status"] == "inactive":
            return
        try:
            check_header("To", user["email"])
        except MailHeaderError as exc:
            log.warning("no reset mail: the stored address cannot receive mail (%s)", exc)
            return
        token = await create_token(conn, user["id"], "reset")
        await record_event(conn, "password_reset_requested", org_id=user["org_id"],
                           user_id=user["id"])
    link = set_password_link(app[SETTINGS], token)
    await app[MAILER].send(Mail(
        to=user["email"], subject="Reset your Formula PM password",
        body=f"Choose a new password (the link works once, for one hour):\n\n{link}\n"))


@routes.post("/api/v1/auth/password-reset/confirm")
@doc(summary="Set a password with a reset or invitation token", body=ResetConfirmBody,
     status=204, tags=["auth"])
async def confirm_reset(request: web.Request) -> web.Response:
    body = await read_body(request, ResetConfirmBody)
    pool = request.app[POOL]
    async with system_transaction(pool, _anonymous_actor(request)) as conn:
        used = await consume_token(conn, body.token)
        if used is None:
            raise Invalid("The link is invalid, expired or already used", code="invalid_token",
                          errors=[{"field": "token", "message": "invalid or expired"}])
        user = await q.get(conn, used["user_id"])
        assert user is not None
        if user["status"] == "inactive":
            raise Invalid("The account is deactivated", code="invalid_token",
                          errors=[{"field": "token", "message": "invalid or expired"}])
        check_policy(body.new_password, field="new_password", email=user["email"])
        await q.set_password(conn, user["id"], await hash_password(body.new_password),
                             activate=True)
        await record_event(conn, f"password_set_by_{used['purpose']}", org_id=user["org_id"],
                           user_id=user["id"])
    await revoke_user_sessions(request.app, user["id"], "password reset",
                               _anonymous_actor(request, user))
    return web.Response(status=204)
