"""Sign-in sessions: start, refresh with rotation and reuse detection, revoke."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import web

from db.pool import Actor, system_transaction
from db.queries import sessions as q
from db.queries import users
from db.queries.events import record_event
from server.auth.identity import session_cache_key
from server.auth.tokens import (
    hash_token,
    issue_access_token,
    refresh_token_for,
    signing_keys,
)
from server.errors import Unauthorized
from server.keys import CACHE, ON_SESSIONS_REVOKED, POOL, SESSION_COPIES, SETTINGS
from server.prometheus import count_auth_failure

log = logging.getLogger("formula_pm.auth")

# Who a user is, as far as access goes. A change to any of these ends the user's sessions
# (their tokens, cached session facts and sockets), whoever makes it and however.
IDENTITY_FIELDS = ("role", "status", "client_id", "org_id")


def identity_changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether an update of a user row changed who the user is."""
    return any(before.get(f) != after.get(f) for f in IDENTITY_FIELDS)


def ends_sessions(changed_fields: Iterable[str], new_status: Any) -> bool:
    """Whether an audited user update (changed fields, new status) must end the user's
    sessions: any identity field but status, or a status that is no longer active (an
    invited user who signs in for the first time keeps the session just started)."""
    changed = set(changed_fields)
    return bool(changed & (set(IDENTITY_FIELDS) - {"status"})) or (
        "status" in changed and new_status != "active")


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: uuid.UUID

    def as_json(self) -> dict[str, Any]:
        return {"access_token": self.access_token, "refresh_token": self.refresh_token,
                "token_type": "Bearer", "expires_in": self.expires_in}


def _pair(app: web.Application, *, user_id: uuid.UUID, org_id: uuid.UUID, role: str,
          session_id: uuid.UUID, generation: int) -> TokenPair:
    settings = app[SETTINGS]
    keys = signing_keys(settings.jwt_secret, settings.jwt_previous_secrets)
    access = issue_access_token(keys, user_id=user_id, org_id=org_id, role=role,
                                session_id=session_id, ttl=settings.access_token_ttl)
    refresh = refresh_token_for(settings.jwt_secret, session_id, generation)
    return TokenPair(access, refresh, settings.access_token_ttl, session_id)


async def start_session(app: web.Application, *, user_id: uuid.UUID, org_id: uuid.UUID,
                        role: str, ip: str | None = None,
                        user_agent: str | None = None) -> TokenPair:
    """A new session (one refresh-token family) and its first token pair."""
    settings = app[SETTINGS]
    session_id = uuid.uuid4()
    refresh = refresh_token_for(settings.jwt_secret, session_id, 0)
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=settings.refresh_token_ttl)
    async with system_transaction(app[POOL]) as conn:
        await q.create_session(conn, session_id=session_id, user_id=user_id, org_id=org_id,
                               refresh_hash=hash_token(refresh), expires_at=expires, ip=ip,
                               user_agent=user_agent)
    return _pair(app, user_id=user_id, org_id=org_id, role=role, session_id=session_id,
                 generation=0)


async def refresh_session(app: web.Application, refresh_token: str,
                          actor: Actor) -> TokenPair:
    """Rotate: the presented token is spent and a new pair issued.

    Presenting a spent token revokes the whole session (someone else holds a copy), except
    within the grace window right after a rotation, when it gets the same new pair again
    (two browser tabs refreshing at once).
    """
    settings = app[SETTINGS]
    invalid = Unauthorized("Invalid or expired refresh token", code="invalid_token")
    async with system_transaction(app[POOL], actor) as conn:
        row = await q.find_by_refresh_hash(conn, hash_token(refresh_token))
        if row is None or row["revoked_at"] is not None:
            raise invalid
        if row["expires_at"] <= dt.datetime.now(dt.UTC):
            raise invalid
        user = await users.get(conn, row["user_id"])
        if user is None or user["status"] != "active":
            raise invalid
        if row["is_current"]:
            generation = row["generation"] + 1
            new_refresh = refresh_token_for(settings.jwt_secret, row["id"], generation)
            await q.rotate(conn, row["id"], hash_token(new_refresh))
        else:
            age = dt.datetime.now(dt.UTC) - (row["rotated_at"] or row["created_at"])
            if age.total_seconds() > settings.refresh_grace_seconds:
                await q.revoke(conn, row["id"], "refresh token reuse")
                await record_event(conn, "token_reuse", {"session_id": str(row["id"])},
                                   org_id=row["org_id"], user_id=row["user_id"])
                reused = True
            else:
                generation = row["generation"]
                reused = False
    if not row["is_current"] and reused:
        count_auth_failure(app, "token_reuse")
        await after_revoke(app, row["user_id"], [row["id"]])
        log.warning("refresh token reuse: session revoked",
                    extra={"user_id": str(row["user_id"]), "session_id": str(row["id"])})
        raise invalid
    return _pair(app, user_id=row["user_id"], org_id=row["org_id"], role=user["role"],
                 session_id=row["id"], generation=generation)


async def after_revoke(app: web.Application, user_id: uuid.UUID,
                       session_ids: list[uuid.UUID]) -> None:
    """Forget cached session facts and tell the socket hub, so tokens die everywhere now."""
    if session_ids:
        copies = app.get(SESSION_COPIES)
        if copies is not None:  # this worker's; the others' are refused by the database
            copies.drop(*session_ids)
        await app[CACHE].delete(*(session_cache_key(s) for s in session_ids))
    for hook in app.get(ON_SESSIONS_REVOKED, []):
        await hook(user_id, session_ids)


async def revoke_session(app: web.Application, session_id: uuid.UUID, user_id: uuid.UUID,
                         reason: str, actor: Actor) -> None:
    async with system_transaction(app[POOL], actor) as conn:
        await q.revoke(conn, session_id, reason)
    await after_revoke(app, user_id, [session_id])


async def revoke_user_sessions(app: web.Application, user_id: uuid.UUID, reason: str,
                               actor: Actor) -> list[uuid.UUID]:
    async with system_transaction(app[POOL], actor) as conn:
        revoked = await q.revoke_all_for_user(conn, user_id, reason)
        await record_revoked(conn, user_id, reason, revoked, actor.user_id)
    await after_revoke(app, user_id, revoked)
    return revoked


async def record_revoked(conn: asyncpg.Connection, user_id: uuid.UUID, reason: str,
                         revoked: list[uuid.UUID], by: uuid.UUID | None) -> None:
    """One `sessions_revoked` audit event for the sessions of a user ended together (none
    when there were none); `by` is who ended them (None: the service)."""
    if not revoked:
        return
    await record_event(conn, "sessions_revoked",
                       {"reason": reason, "sessions": [str(s) for s in revoked]},
                       org_id=await q.user_org(conn, user_id), user_id=by, table="users",
                       record_id=user_id)
