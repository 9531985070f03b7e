"""Who is calling: the bearer-token middleware, and the identity and actor of a request."""

from __future__ import annotations

import functools
import ipaddress
import json
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from db.pool import Actor, SessionEnded, SessionProof, system_transaction
from db.queries.sessions import session_identity
from server.auth.session_copies import is_confirmed_in_database
from server.auth.tokens import (
    AccessClaims,
    SigningKeys,
    decode_access_token_cached,
    signing_keys,
)
from server.cache.keys import READS_RECORD, org_generation_key, record_key, visibility_key
from server.config import Network, Settings
from server.errors import REQUEST_ID, Handler, Unauthorized
from server.keys import CACHE, POOL, SESSION_COPIES, SETTINGS, SOCKET_OWNER

SESSION_CACHE_TTL = 30
# Entries live between 2/3 of that and all of it, at random: sessions cached together (a
# crowd of sockets connecting at once) would otherwise expire together and be reloaded from
# PostgreSQL in one burst.
SESSION_CACHE_TTL_LEAST = 20


@dataclass(frozen=True)
class Identity:
    user_id: uuid.UUID
    org_id: uuid.UUID
    role: str
    session_id: uuid.UUID
    client_id: uuid.UUID | None
    email: str


IDENTITY = web.RequestKey("identity", Identity)
# Cache values a GET will need, read in the same round trip as the session facts
# (key -> raw JSON, None when absent); a key missing here was not read ahead.
READ_AHEAD = web.RequestKey("read_ahead", dict)
READ_METHODS = frozenset({"GET", "HEAD"})
# Set when the identity came from this worker's copy of the session facts: the session is
# confirmed by the request's transactions (or, failing that, before the answer leaves).
SESSION_PROOF = web.RequestKey("session_proof", SessionProof)
SESSION_REFUSED = "Invalid or expired token"

PUBLIC_PREFIXES = ("/health", "/metrics", "/socket.io", "/static/", "/api/docs")
PUBLIC_PATHS = frozenset({
    "/", "/api/v1/openapi.json", "/api/v1/auth/login", "/api/v1/auth/refresh",
    "/api/v1/auth/password-reset/request", "/api/v1/auth/password-reset/confirm",
})


def _keys(settings: Settings) -> SigningKeys:
    return signing_keys(settings.jwt_secret, settings.jwt_previous_secrets)


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


async def _load_facts(app: web.Application, session_id: uuid.UUID) -> dict[str, Any] | None:
    """The session's user facts from PostgreSQL, cached for 20-30 s; None if none."""
    async with system_transaction(app[POOL]) as conn:
        row = await session_identity(conn, session_id)
    if row is None:
        return None
    facts = {
        "user_id": str(row["user_id"]), "org_id": str(row["org_id"]), "role": row["role"],
        "status": row["status"], "email": row["email"],
        "client_id": str(row["client_id"]) if row["client_id"] else None,
        "revoked": row["revoked_at"] is not None,
        "expires_at": row["expires_at"].timestamp(),
    }
    await app[CACHE].set(session_cache_key(session_id), facts,
                         random.randint(SESSION_CACHE_TTL_LEAST, SESSION_CACHE_TTL))
    return facts


def _identity_of(claims: AccessClaims, facts: dict[str, Any]) -> tuple[float, Identity | None]:
    """(session expiry, identity), or no identity if the session or user is not alive, or
    the facts (possibly cached) are of another user or organisation than the token's."""
    if (facts["revoked"] or facts["status"] != "active"
            or facts["user_id"] != str(claims.user_id)
            or facts["org_id"] != str(claims.org_id)):
        return 0.0, None
    return float(facts["expires_at"]), Identity(
        user_id=claims.user_id, org_id=uuid.UUID(facts["org_id"]), role=facts["role"],
        session_id=claims.session_id, email=facts["email"],
        client_id=uuid.UUID(facts["client_id"]) if facts["client_id"] else None,
    )


@functools.lru_cache(maxsize=4096)
def _identity_of_cached(claims: AccessClaims, raw: bytes) -> tuple[float, Identity | None]:
    """`_identity_of` cached facts, remembered by their exact text (a pure function)."""
    return _identity_of(claims, json.loads(raw))


@functools.lru_cache(maxsize=4096)
def _keys_of(claims: AccessClaims) -> tuple[str, str, str]:
    """Session, org generation and visible-projects keys of a token's claims."""
    return (session_cache_key(claims.session_id), org_generation_key(claims.org_id),
            visibility_key(claims.user_id))


async def authenticate(app: web.Application, token: str) -> Identity:
    """Identity of a bearer token: valid signature and claims, live session, active user."""
    claims = decode_access_token_cached(_keys(app[SETTINGS]), token)
    who, _ = await authenticate_reading(app, claims, ())
    return who


async def authenticate_reading(app: web.Application, claims: AccessClaims, also: Sequence[str]
                               ) -> tuple[Identity, dict[str, bytes | None]]:
    """`authenticate` of decoded claims, reading the cache keys `also` in the same round
    trip as the session facts (cached for 30 s, dropped at once on revocation).

    The second value maps each key of `also` to its raw value; it is empty when the cache
    could not be read (callers then read for themselves)."""
    cache = app[CACHE]
    raws = await cache.prefetch([_keys_of(claims)[0], *also])
    raw = raws[0] if raws else None
    cache.tally(raw is not None)
    if raw is not None:
        expires_at, who = _identity_of_cached(claims, raw)
    else:
        facts = await _load_facts(app, claims.session_id)
        expires_at, who = (0.0, None) if facts is None else _identity_of(claims, facts)
        raw = None if facts is None else json.dumps(facts).encode()
    copies = app.get(SESSION_COPIES)
    if who is None or expires_at < time.time():
        if copies is not None:
            copies.drop(claims.session_id)
        raise Unauthorized(SESSION_REFUSED, code="invalid_token")
    if copies is not None and raw is not None:
        copies.put(claims.session_id, raw)
    return who, ({} if raws is None else dict(zip(also, raws[1:], strict=True)))


def _copied_identity(request: web.Request, claims: AccessClaims) -> Identity | None:
    """The caller's identity from this worker's copy of the session facts, for a write
    whose handler is confirmed in the database; None when that does not apply."""
    copies = request.app.get(SESSION_COPIES)
    if (copies is None or request.method in READ_METHODS
            or not is_confirmed_in_database(request.match_info.handler)):
        return None
    raw = copies.get(claims.session_id)
    if raw is None:
        return None
    expires_at, who = _identity_of_cached(claims, raw)
    return who if who is not None and expires_at >= time.time() else None


async def _confirming(request: web.Request, handler: Handler, claims: AccessClaims,
                      who: Identity) -> web.StreamResponse:
    """Run the handler as `who`, taken from the worker's copy of the session: its
    transactions check the session first (`SessionProof`); an answer or error that none
    confirmed waits for the ordinary check, which answers 401 in its place if the session
    has ended."""
    proof = SessionProof(claims.session_id)
    request[IDENTITY] = who
    request[READ_AHEAD] = {}
    request[SESSION_PROOF] = proof
    try:
        response = await handler(request)
    except SessionEnded:
        # Ended without the cache hearing of it (a raw-SQL change): forget it everywhere.
        request.app[SESSION_COPIES].drop(claims.session_id)
        await request.app[CACHE].delete(session_cache_key(claims.session_id))
        raise Unauthorized(SESSION_REFUSED, code="invalid_token") from None
    except Exception:
        if not proof.confirmed:
            await authenticate_reading(request.app, claims, ())
        raise
    if not proof.confirmed:
        await authenticate_reading(request.app, claims, ())
    return response


def read_ahead_keys(request: web.Request, claims: AccessClaims) -> list[str]:
    """What a GET will read from the cache: the caller's visible-project set and its org
    generation, and the record of a handler marked with `@reads_record(table)`."""
    if request.method not in READ_METHODS:
        return []
    _, generation, visible = _keys_of(claims)
    table = getattr(request.match_info.handler, READS_RECORD, None)
    raw_id = request.match_info.get("id", "")
    record = None if table is None or len(raw_id) > 45 else _record_key_of(table, raw_id)
    return [generation, visible] if record is None else [generation, visible, record]


@functools.lru_cache(maxsize=8192)
def _record_key_of(table: str, raw_id: str) -> str | None:
    """The cache key of the record a path names, or None if the id is not a UUID."""
    try:
        return record_key(table, uuid.UUID(raw_id))
    except ValueError:
        return None


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    # Unknown paths are 404 whether or not a token is sent: let routing answer first.
    if request.match_info.http_exception is not None or _is_public(request):
        return await handler(request)
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("A bearer token is required", code="missing_token",
                           headers={"WWW-Authenticate": 'Bearer realm="formula-pm"'})
    claims = decode_access_token_cached(_keys(request.app[SETTINGS]), token)
    copied = _copied_identity(request, claims)
    if copied is not None:
        return await _confirming(request, handler, claims, copied)
    who, ahead = await authenticate_reading(request.app, claims, read_ahead_keys(request, claims))
    request[IDENTITY] = who
    request[READ_AHEAD] = ahead
    return await handler(request)


def identity(request: web.Request) -> Identity:
    try:
        return request[IDENTITY]
    except KeyError:
        raise Unauthorized("A bearer token is required", code="missing_token") from None


# Headers by which a proxy says whom it forwards for.
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def client_ip(request: web.Request) -> str | None:
    """The caller's address; X-Forwarded-For is believed only from TRUSTED_PROXIES.

    Not aiohttp-remotes: none of its middlewares is this rule. XForwardedFiltered never
    looks at the peer, so any caller that forges the header is believed; XForwardedStrict
    wants one trusted set per hop and answers a plain-text 400 to every other chain
    length (a direct request from the proxy host, an untrusted peer that sends the
    header, a chain of unknown length), where this ignores what it cannot believe and
    serves the request; and both replace `request.remote`, which `from_operators` needs
    as the real peer. Here: the peer must be in TRUSTED_PROXIES, then the hops are walked
    from the nearest, and the first that is not (or does not parse) ends the walk."""
    remote = request.remote
    networks = request.app[SETTINGS].trusted_networks
    forwarded = request.headers.get("X-Forwarded-For")
    if remote and forwarded and address_in(remote, networks):
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        for hop in reversed(hops):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                break
            if not address_in(hop, networks):
                return hop
    try:
        return str(ipaddress.ip_address(remote)) if remote else None
    except ValueError:
        return None


def address_in(address: str | None, networks: Sequence[Network]) -> bool:
    """Whether `address` lies in one of `networks` (an IPv4-mapped IPv6 address counts
    as its IPv4 address); no address or a malformed one is in none."""
    if not address:
        return False
    try:
        addr = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr in net for net in networks)


def from_operators(request: web.Request) -> bool:
    """Whether the caller may see operational detail (/metrics, /health/ready): its
    address, as `client_ip` finds it, is in METRICS_ALLOW. A request forwarded by a
    proxy that is not trusted never is: behind a same-host proxy every caller would
    otherwise come from loopback."""
    settings = request.app[SETTINGS]
    forwarded = any(h in request.headers for h in FORWARDING_HEADERS)
    if forwarded and not address_in(request.remote, settings.trusted_networks):
        return False
    return address_in(client_ip(request), settings.metrics_allow)


async def actor(request: web.Request) -> Actor:
    """The actor for `db.transaction`: identity, request id, address, and the caller's socket.
    A write on the request's behalf goes through `server.writes` (its cache invalidation)."""
    who = identity(request)
    sid = request.headers.get("X-Socket-ID") or None
    if sid is not None:
        owner = request.app.get(SOCKET_OWNER)
        if owner is None or str(await owner(sid)) != str(who.user_id):
            sid = None
    return Actor(
        user_id=who.user_id, org_id=who.org_id, role=who.role,
        request_id=request.get(REQUEST_ID), origin_sid=sid, ip=client_ip(request),
        user_agent=request.headers.get("User-Agent"), session=request.get(SESSION_PROOF),
    )
