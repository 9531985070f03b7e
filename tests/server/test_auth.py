"""Sign-in, tokens, sessions, throttling, invitations and password resets."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any

import asyncpg
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher

from db.pool import system_transaction
from db.queries import users as user_queries
from server.auth.tokens import AUDIENCE, ISSUER
from server.keys import BACKGROUND
from tests.conftest import PASSWORD, Outbox, World

Client = TestClient[Any, Any]


async def login(client: Client, email: str, password: str = PASSWORD) -> Any:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


async def signed_in(
    client: Client, world: World, role: str = "admin"
) -> tuple[dict[str, Any], dict[str, Any]]:
    org = await world.org()
    user = await world.user(org, role)
    response = await login(client, user["email"])
    assert response.status == 200, await response.text()
    return user, await response.json()


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def test_login_returns_tokens_and_user_without_secrets(client: Client, world: World) -> None:
    user, body = await signed_in(client, world)
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["user"]["id"] == str(user["id"])
    assert set(body["user"]) >= {"id", "org_id", "email", "first_name", "last_name", "role",
                                 "position", "department", "status", "client_id"}
    assert not [k for k in body["user"] if "password" in k]
    me = await client.get("/api/v1/auth/me", headers=bearer(body))
    assert me.status == 200 and (await me.json())["email"] == user["email"]


async def test_login_is_case_insensitive_on_email(client: Client, world: World) -> None:
    org = await world.org()
    user = await world.user(org, "designer", email="Deniz.Yilmaz@Example.test")
    assert (await login(client, "deniz.yilmaz@example.TEST")).status == 200
    assert user["email"] == "Deniz.Yilmaz@Example.test"


async def test_unknown_email_and_wrong_password_get_the_same_answer(
    client: Client, world: World,
) -> None:
    org = await world.org()
    user = await world.user(org)
    wrong = await login(client, user["email"], "not the password at all")
    unknown = await login(client, "nobody@example.test", "not the password at all")
    assert wrong.status == unknown.status == 401
    a, b = await wrong.json(), await unknown.json()
    a.pop("request_id"), b.pop("request_id")
    assert a == b


@pytest.mark.parametrize("status", ["inactive", "invited"])
async def test_inactive_or_invited_user_cannot_sign_in(
    client: Client, world: World, status: str,
) -> None:
    org = await world.org()
    user = await world.user(org, "designer", status=status)
    assert (await login(client, user["email"])).status == 401


async def test_repeated_failures_are_throttled_with_retry_after(
    client: Client, world: World,
) -> None:
    org = await world.org()
    user = await world.user(org)
    for _ in range(5):
        assert (await login(client, user["email"], "wrong password!")).status == 401
    blocked = await login(client, user["email"])  # even the right password waits now
    assert blocked.status == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert (await blocked.json())["code"] == "rate_limited"


async def test_successful_logins_are_never_throttled(client: Client, world: World) -> None:
    org = await world.org()
    user = await world.user(org)
    for _ in range(4):
        await login(client, user["email"], "wrong password!")
    for _ in range(8):  # success resets the account's failures; successes never count
        assert (await login(client, user["email"])).status == 200


def _token(secret: str, **overrides: Any) -> str:
    now = int(time.time())
    claims = {"sub": str(uuid.uuid4()), "org": str(uuid.uuid4()), "role": "admin",
              "sid": str(uuid.uuid4()), "iss": ISSUER, "aud": AUDIENCE, "iat": now,
              "exp": now + 600, "jti": "x"}
    claims.update(overrides)
    return jwt.encode(claims, secret, algorithm="HS256")


async def test_defective_tokens_are_401_without_detail(
    client: Client, world: World, app: web.Application,
) -> None:
    _, body = await signed_in(client, world)
    good = jwt.decode(body["access_token"], options={"verify_signature": False})
    secret = "t" * 48
    none_token = jwt.encode({**good}, key=None, algorithm="none")  # type: ignore[arg-type]
    tokens = {
        "expired": _token(secret, **{**good, "exp": int(time.time()) - 5}),
        "bad signature": _token("x" * 48, **good),
        "alg none": none_token,
        "wrong issuer": _token(secret, **{**good, "iss": "someone-else"}),
        "wrong audience": _token(secret, **{**good, "aud": "another-api"}),
        "garbage": "not.a.jwt",
    }
    for name, token in tokens.items():
        response = await client.get("/api/v1/auth/me",
                                    headers={"Authorization": f"Bearer {token}"})
        assert response.status == 401, name
        problem = await response.json()
        assert problem["code"] == "invalid_token", name
        assert "signature" not in problem["detail"].lower()
    assert (await client.get("/api/v1/auth/me")).status == 401


async def test_refresh_rotates_and_the_old_token_stops_working(
    client: Client, world: World, pool: Any,
) -> None:
    _, first = await signed_in(client, world)
    second = await client.post("/api/v1/auth/refresh",
                               json={"refresh_token": first["refresh_token"]})
    assert second.status == 200
    pair = await second.json()
    assert pair["refresh_token"] != first["refresh_token"]
    # Outside the grace window, the spent token is reuse: the whole session is revoked.
    async with pool.acquire() as conn:
        await conn.execute("UPDATE user_sessions SET rotated_at = now() - interval '1 hour'")
    reuse = await client.post("/api/v1/auth/refresh",
                              json={"refresh_token": first["refresh_token"]})
    assert reuse.status == 401
    assert (await client.get("/api/v1/auth/me", headers=bearer(pair))).status == 401
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert again.status == 401
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM audit_logs WHERE action = 'token_reuse'")


async def test_two_tabs_refreshing_at_once_get_the_same_pair(client: Client, world: World) -> None:
    _, first = await signed_in(client, world)
    body = {"refresh_token": first["refresh_token"]}
    a, b = await asyncio.gather(client.post("/api/v1/auth/refresh", json=body),
                                client.post("/api/v1/auth/refresh", json=body))
    assert a.status == b.status == 200
    assert (await a.json())["refresh_token"] == (await b.json())["refresh_token"]


async def test_logout_makes_both_tokens_useless_at_once(client: Client, world: World) -> None:
    _, tokens = await signed_in(client, world)
    assert (await client.get("/api/v1/auth/me", headers=bearer(tokens))).status == 200
    assert (await client.post("/api/v1/auth/logout", headers=bearer(tokens))).status == 204
    assert (await client.get("/api/v1/auth/me", headers=bearer(tokens))).status == 401
    refresh = await client.post("/api/v1/auth/refresh",
                                json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status == 401


async def test_change_password(client: Client, world: World) -> None:
    user, tokens = await signed_in(client, world, "designer")
    other = await (await login(client, user["email"])).json()
    bad = await client.post("/api/v1/auth/change-password", headers=bearer(tokens),
                            json={"current_password": "nope", "new_password": "a much better one"})
    assert bad.status == 422
    weak = await client.post("/api/v1/auth/change-password", headers=bearer(tokens),
                             json={"current_password": PASSWORD, "new_password": "short"})
    assert weak.status == 422
    assert (await weak.json())["errors"][0]["field"] == "new_password"
    ok = await client.post("/api/v1/auth/change-password", headers=bearer(tokens),
                           json={"current_password": PASSWORD, "new_password": "Yeni şifre 2026!"})
    assert ok.status == 204
    assert (await client.get("/api/v1/auth/me", headers=bearer(tokens))).status == 200
    assert (await client.get("/api/v1/auth/me", headers=bearer(other))).status == 401
    assert (await login(client, user["email"], "Yeni şifre 2026!")).status == 200


async def _stored_hash(pool: asyncpg.Pool, user_id: uuid.UUID) -> str:
    async with system_transaction(pool) as conn:
        stored: str = await conn.fetchval("SELECT password_hash FROM users WHERE id = $1",
                                          user_id)
    return stored


async def test_a_weaker_hash_is_upgraded_on_a_successful_sign_in(
    client: Client, world: World, pool: asyncpg.Pool,
) -> None:
    org = await world.org()
    user = await world.user(org, "designer")
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    async with system_transaction(pool) as conn:
        await conn.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user["id"], weak)
    assert (await login(client, user["email"], "not the password")).status == 401
    assert await _stored_hash(pool, user["id"]) == weak  # a failed sign-in changes nothing
    assert (await login(client, user["email"])).status == 200
    upgraded = await _stored_hash(pool, user["id"])
    assert upgraded != weak and not PasswordHasher().check_needs_rehash(upgraded)
    assert PasswordHasher().verify(upgraded, PASSWORD)
    assert (await login(client, user["email"])).status == 200
    assert await _stored_hash(pool, user["id"]) == upgraded  # current: left alone


async def test_a_hash_upgrade_never_undoes_a_password_change(
    world: World, pool: asyncpg.Pool,
) -> None:
    org = await world.org()
    user = await world.user(org, "designer")
    async with system_transaction(pool) as conn:  # the password changed since it was read
        await user_queries.upgrade_password_hash(conn, user["id"], "the hash read before",
                                                 "a stronger hash of the old password")
    assert await _stored_hash(pool, user["id"]) == user["password_hash"]


async def test_update_profile_cannot_touch_role(client: Client, world: World) -> None:
    _, tokens = await signed_in(client, world, "craftsman")
    response = await client.patch("/api/v1/auth/me", headers=bearer(tokens),
                                  json={"first_name": "Oğuz", "role": "admin"})
    assert response.status == 422
    assert {"field": "role", "message": "unknown field"} in (await response.json())["errors"]
    response = await client.patch("/api/v1/auth/me", headers=bearer(tokens),
                                  json={"first_name": "Oğuz", "phone": "+90 555 000 00 00"})
    assert response.status == 200
    assert (await response.json())["first_name"] == "Oğuz"


async def test_password_reset_once_and_never_again(
    client: Client, world: World, outbox: Outbox, app: web.Application,
) -> None:
    user, tokens = await signed_in(client, world, "coordinator")
    unknown = await client.post("/api/v1/auth/password-reset/request",
                                json={"email": "nobody@example.test"})
    await app[BACKGROUND].settle()  # the mail goes out after the answer
    assert unknown.status == 202 and not outbox.sent
    known = await client.post("/api/v1/auth/password-reset/request",
                              json={"email": user["email"].upper()})
    await app[BACKGROUND].settle()
    assert known.status == 202 and len(outbox.sent) == 1
    token = outbox.last_token()
    confirm = {"token": token, "new_password": "Brand new secret 42"}
    assert (await client.post("/api/v1/auth/password-reset/confirm", json=confirm)).status == 204
    assert (await client.post("/api/v1/auth/password-reset/confirm", json=confirm)).status == 422
    assert (await client.get("/api/v1/auth/me", headers=bearer(tokens))).status == 401
    assert (await login(client, user["email"], "Brand new secret 42")).status == 200
    assert (await login(client, user["email"])).status == 401


async def test_expired_reset_token_is_refused(
    client: Client, world: World, outbox: Outbox, pool: Any, app: web.Application,
) -> None:
    org = await world.org()
    user = await world.user(org, "designer")
    await client.post("/api/v1/auth/password-reset/request", json={"email": user["email"]})
    await app[BACKGROUND].settle()
    async with pool.acquire() as conn:
        await conn.execute("UPDATE password_tokens SET expires_at = now() - interval '1 second'")
    response = await client.post("/api/v1/auth/password-reset/confirm",
                                 json={"token": outbox.last_token(),
                                       "new_password": "Brand new secret 42"})
    assert response.status == 422


async def test_secrets_never_leak_into_logs_or_audit(
    client: Client, world: World, pool: Any, caplog: pytest.LogCaptureFixture, outbox: Outbox,
    app: web.Application,
) -> None:
    caplog.set_level(logging.DEBUG)
    user, tokens = await signed_in(client, world)
    await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    await client.post("/api/v1/auth/password-reset/request", json={"email": user["email"]})
    await app[BACKGROUND].settle()
    secrets_ = [tokens["access_token"], tokens["refresh_token"], user["password_hash"],
                outbox.last_token(), PASSWORD]
    async with pool.acquire() as conn:
        audit = json.dumps([dict(r) for r in await conn.fetch("SELECT * FROM audit_logs")],
                           default=str)
        assert '"password_hash": "[redacted]"' in audit
    logs = caplog.text
    for secret in secrets_:
        assert secret not in audit
        assert secret not in logs
