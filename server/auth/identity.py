"""Who is calling: the bearer-token middleware, and the identity and actor of a request."""

from __future__ import annotations

import datetime as dt
import ipaddress
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from db.pool import Actor, system_transaction
from db.queries.sessions import session_identity
from server.auth.tokens import decode_access_token
from server.cache_keys import org_generation_key, record_key, visibility_key
from server.errors import REQUEST_ID, Handler, Unauthorized
from server.keys import CACHE, POOL, SETTINGS, SOCKET_OWNER

SESSION_CACHE_TTL = 30


@dataclass(frozen=True)
class Identity:
    user_id: uuid.UUID
    org_id: uuid.UUID
    role: str
    session_id: uuid.UUID
    client_id: uuid.UUID | None
    email: str


IDENTITY = web.RequestKey("identity", Identity)
# Cache values fetched by the auth middleware for the handler (key -> value or None).
PREFETCHED = web.RequestKey("prefetched", dict)
CACHED_TABLE = "__fpm_cached_table__"
H = TypeVar("H")
# What this request's write transactions changed (filled just before each commit).
CHANGES = web.RequestKey("changes", list)

PUBLIC_PREFIXES = ("/health", "/metrics", "/socket.io", "/static/", "/api/docs")
PUBLIC_PATHS = frozenset({
    "/", "/api/v1/openapi.json", "/api/v1/auth/login", "/api/v1/auth/refresh",
    "/api/v1/auth/password-reset/request", "/api/v1/auth/password-reset/confirm",
})


def session_cache_key(session_id: uuid.UUID | str) -> str:
    return f"session:{session_id}"


def _is_public(request: web.Request) -> bool:
    path = request.path
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def load_session(app: web.Application, session_id: uuid.UUID,
                       prefetched: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The live session's user facts, from the cache or PostgreSQL; None if not alive."""
    cache = app[CACHE]
    key = session_cache_key(session_id)
    if prefetched is not None and key in prefetched:
        cached = prefetched[key]
        cache.count(hit=cached is not None)
    else:
        cached = await cache.get(key)
    if cached is None:
        async with system_transaction(app[POOL]) as conn:
            row = await session_identity(conn, session_id)
        if row is None:
            return None
        cached = {
            "user_id": str(row["user_id"]), "org_id": str(row["org_id"]), "role": row["role"],
            "status": row["status"], "email": row["email"],
            "client_id": str(row["client_id"]) if row["client_id"] else None,
            "revoked": row["revoked_at"] is not None,
            "expires_at": row["expires_at"].timestamp(),
        }
        await cache.set(key, cached, SESSION_CACHE_TTL)
    if cached["revoked"] or cached["status"] != "active":
        return None
    if cached["expires_at"] < dt.datetime.now(dt.UTC).timestamp():
        return None
    return dict(cached)


async def authenticate(app: web.Application, token: str,
                       prefetched: dict[str, Any] | None = None) -> Identity:
    """Identity of a bearer token: valid signature and claims, live session, active user."""
    claims = decode_access_token(app[SETTINGS].jwt_secret, token)
    facts = await load_session(app, claims.session_id, prefetched)
    if facts is None or facts["user_id"] != str(claims.user_id):
        raise Unauthorized("Invalid or expired token", code="invalid_token")
    return Identity(
        user_id=claims.user_id, org_id=uuid.UUID(facts["org_id"]), role=facts["role"],
        session_id=claims.session_id, email=facts["email"],
        client_id=uuid.UUID(facts["client_id"]) if facts["client_id"] else None,
    )


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    # Unknown paths are 404 whether or not a token is sent: let routing answer first.
    if request.match_info.http_exception is not None or _is_public(request):
        return await handler(request)
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("A bearer token is required", code="missing_token",
                           headers={"WWW-Authenticate": 'Bearer realm="formula-pm"'})
    request[IDENTITY] = await authenticate(request.app, token,
                                           await _prefetch(request, token))
    return await handler(request)


async def _prefetch(request: web.Request, token: str) -> dict[str, Any]:
    """One Redis round trip for the session facts and, on a cacheable GET, everything the
    handler's cached read needs (keys known from the token and the route)."""
    try:
        claims = decode_access_token(request.app[SETTINGS].jwt_secret, token)
    except Unauthorized:
        return {}
    keys = [session_cache_key(claims.session_id)]
    table = cached_table(request.match_info.handler) if request.method == "GET" else None
    record_id = request.match_info.get("id")
    if table is not None and record_id is not None:
        keys += [record_key(table, record_id), org_generation_key(claims.org_id),
                 visibility_key(claims.user_id)]
    values = await request.app[CACHE].get_many(keys, track=False)
    request[PREFETCHED] = dict(zip(keys, values, strict=True))
    return request[PREFETCHED]


def cached_table(handler: Any) -> str | None:
    """The table a handler reads through the cache (set by `cached_resource`), if any."""
    while handler is not None:
        table = getattr(handler, CACHED_TABLE, None)
        if table is not None:
            return str(table)
        handler = getattr(handler, "__wrapped__", None)
    return None


def cached_resource(table: str) -> Callable[[H], H]:
    """Mark a `GET …/{id}` handler whose record is read through the cache, so the auth
    middleware can fetch it in the same round trip as the session."""

    def mark(handler: H) -> H:
        setattr(handler, CACHED_TABLE, table)
        return handler

    return mark


def identity(request: web.Request) -> Identity:
    try:
        return request[IDENTITY]
    except KeyError:
        raise Unauthorized("A bearer token is required", code="missing_token") from None


def client_ip(request: web.Request) -> str | None:
    """The caller's address; X-Forwarded-For is believed only from TRUSTED_PROXIES."""
    remote = request.remote
    networks = request.app[SETTINGS].trusted_networks
    forwarded = request.headers.get("X-Forwarded-For")
    if remote and forwarded and networks:
        try:
            addr = ipaddress.ip_address(remote)
        except ValueError:
            return remote
        if any(addr in net for net in networks):
            hops = [h.strip() for h in forwarded.split(",") if h.strip()]
            # Walk from the nearest hop; the first untrusted one is the client.
            for hop in reversed(hops):
                try:
                    hop_addr = ipaddress.ip_address(hop)
                except ValueError:
                    break
                if not any(hop_addr in net for net in networks):
                    return hop
    try:
        return str(ipaddress.ip_address(remote)) if remote else None
    except ValueError:
        return None


async def actor(request: web.Request) -> Actor:
    """The actor for `db.transaction`: identity, request id, address, and the caller's socket."""
    who = identity(request)
    sid = request.headers.get("X-Socket-ID") or None
    if sid is not None:
        owner = request.app.get(SOCKET_OWNER)
        if owner is None or str(await owner(sid)) != str(who.user_id):
            sid = None
    return Actor(
        user_id=who.user_id, org_id=who.org_id, role=who.role,
        request_id=request.get(REQUEST_ID), origin_sid=sid, ip=client_ip(request),
        user_agent=request.headers.get("User-Agent"), changes=request.setdefault(CHANGES, []),
    )
