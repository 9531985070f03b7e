"""Access JWTs and refresh tokens: issuing, checking, and the hashes stored for them."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from server.errors import Unauthorized

ISSUER = "formula-pm"
AUDIENCE = "formula-pm-api"
ALGORITHM = "HS256"
_REQUIRED = ["exp", "iat", "iss", "aud", "sub", "sid", "org", "role", "jti"]


def key_id(secret: str) -> str:
    """The `kid` of a signing key: a short hash that names the key without revealing it."""
    return hashlib.sha256(b"formula-pm jwt kid:" + secret.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SigningKeys:
    """The key that signs access tokens and the previous keys that still verify them."""

    current: str
    previous: tuple[str, ...] = ()

    @functools.cached_property
    def by_kid(self) -> dict[str, str]:
        return {key_id(k): k for k in (*self.previous, self.current)}

    @functools.cached_property
    def current_kid(self) -> str:
        return key_id(self.current)

    def verifying(self, kid: object) -> list[str]:
        """The keys to try for a token naming `kid`; one without a `kid` (issued before
        tokens carried one) is tried against every configured key."""
        if kid is None:
            return [self.current, *self.previous]
        key = self.by_kid.get(kid) if isinstance(kid, str) else None
        return [] if key is None else [key]


@functools.lru_cache(maxsize=8)
def signing_keys(current: str, previous: tuple[str, ...] = ()) -> SigningKeys:
    """One `SigningKeys` per configuration (its kids are computed once)."""
    return SigningKeys(current, previous)


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    org_id: uuid.UUID
    role: str
    session_id: uuid.UUID
    expires_at: int


def issue_access_token(
    keys: SigningKeys, *, user_id: uuid.UUID, org_id: uuid.UUID, role: str,
    session_id: uuid.UUID, ttl: int, now: float | None = None,
) -> str:
    issued = int(now if now is not None else time.time())
    claims = {
        "sub": str(user_id), "org": str(org_id), "role": role, "sid": str(session_id),
        "iss": ISSUER, "aud": AUDIENCE, "iat": issued, "exp": issued + ttl,
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, keys.current, algorithm=ALGORITHM,
                      headers={"kid": keys.current_kid})


def decode_access_token(keys: SigningKeys, token: str) -> AccessClaims:
    """The claims of a valid token signed by a configured key; any defect is the same
    terse 401 (a token whose key was retired included)."""
    try:
        candidates = keys.verifying(jwt.get_unverified_header(token).get("kid"))
        if not candidates:
            raise jwt.InvalidKeyError("the token's key is not configured")
        claims = _verified(token, candidates)
        return AccessClaims(
            user_id=uuid.UUID(claims["sub"]), org_id=uuid.UUID(claims["org"]),
            role=str(claims["role"]), session_id=uuid.UUID(claims["sid"]),
            expires_at=int(claims["exp"]),
        )
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
        raise Unauthorized("Invalid or expired token", code="invalid_token") from exc


def _verified(token: str, keys: list[str]) -> dict[str, Any]:
    """The claims under the first key whose signature matches; other defects (expiry,
    audience) are the same under every key, so they end the search."""
    for key in keys[:-1]:
        try:
            return _decode(token, key)
        except jwt.InvalidSignatureError:
            continue
    return _decode(token, keys[-1])


def _decode(token: str, key: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(
        token, key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
        options={"require": _REQUIRED})
    return claims


# Successful decodes, remembered until the token expires: a token's validity depends only
# on the signing keys (part of the memory's key), the token text and the clock (its exp), so
# a remembered answer is exact until then. Revocation is checked on the session, never here.
# With many users a worker sees each token only every few seconds (1,000 users writing 200
# times a second between them: each token every 5 s per worker), so a shorter memory would
# decode nearly every request.
DECODE_MEMORY_SIZE = 4096
_decoded: dict[tuple[SigningKeys, str], AccessClaims] = {}


def decode_access_token_cached(keys: SigningKeys, token: str) -> AccessClaims:
    """`decode_access_token` with an in-process memory of recent successes (at most
    DECODE_MEMORY_SIZE: the oldest remembered goes first)."""
    known = _decoded.get((keys, token))
    if known is not None:
        if time.time() < known.expires_at:
            return known
        del _decoded[(keys, token)]
    claims = decode_access_token(keys, token)
    if len(_decoded) >= DECODE_MEMORY_SIZE:
        del _decoded[next(iter(_decoded))]
    _decoded[(keys, token)] = claims
    return claims


def hash_token(token: str) -> str:
    """Tokens are stored only as SHA-256 hashes (they are long and random: no salt needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def refresh_token_for(secret: str, session_id: uuid.UUID, generation: int) -> str:
    """The refresh token of one generation of a session.

    Derived, not stored: a second browser tab that refreshes within the grace window gets
    the same new token again without the server keeping any token in plain text.
    """
    key = hashlib.sha256(("refresh:" + secret).encode()).digest()
    mac = hmac.new(key, f"{session_id}:{generation}".encode(), hashlib.sha256).digest()
    sid = base64.urlsafe_b64encode(session_id.bytes).rstrip(b"=").decode()
    return f"{sid}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def new_one_time_token() -> str:
    """An invitation or password-reset token (sent by mail, stored hashed)."""
    return secrets.token_urlsafe(32)
