"""Throttles of sign-in, password change and reset requests, seen from several addresses.

The app under test believes X-Forwarded-For from 127.0.0.1 (TRUSTED_PROXIES), which is how
these tests speak from different addresses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from server.app import create_app
from server.auth.throttle import LOGIN_PER_ACCOUNT_ADDRESS, PASSWORD_CHANGE_PER_USER
from server.config import Settings
from server.http import HANDLER_ARGS
from server.keys import BACKGROUND, MAILER, THROTTLES
from tests.conftest import PASSWORD, Outbox, World

Client = TestClient[Any, Any]
WRONG = "not the password at all"
# The shared ceilings (100 and 30) lowered for these tests: every failure costs an argon2
# verification, and the rule is the same at any height.
CEILING = 10


@pytest.fixture
async def proxied_app(settings: Settings, pool: Any) -> web.Application:
    trusted = settings.model_copy(update={
        "trusted_proxies": ("127.0.0.1/32",),
        "trusted_networks": (ipaddress.ip_network("127.0.0.1/32"),)})
    app = create_app(trusted)
    app[MAILER] = Outbox()
    return app


@pytest.fixture
async def proxied(proxied_app: web.Application) -> AsyncIterator[Client]:
    server = TestServer(proxied_app)
    await server.start_server(**HANDLER_ARGS)
    client = TestClient(server)
    await client.start_server()
    yield client
    await client.close()


async def login(client: Client, email: str, address: str, password: str = PASSWORD) -> Any:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password},
                             headers={"X-Forwarded-For": address})


async def assert_throttled(response: Any) -> None:
    assert response.status == 429, await response.text()
    assert int(response.headers["Retry-After"]) > 0
    assert response.content_type == "application/problem+json"
    assert (await response.json())["code"] == "rate_limited"


async def test_an_attacker_elsewhere_does_not_lock_the_owner_out(
    proxied: Client, world: World,
) -> None:
    user = await world.user(await world.org())
    for _ in range(LOGIN_PER_ACCOUNT_ADDRESS):
        assert (await login(proxied, user["email"], "203.0.113.7", WRONG)).status == 401
    # The attacker is held, even with the right password...
    await assert_throttled(await login(proxied, user["email"], "203.0.113.7", WRONG))
    await assert_throttled(await login(proxied, user["email"], "203.0.113.7"))
    # ...the owner, from another address, is not.
    assert (await login(proxied, user["email"], "198.51.100.20")).status == 200


async def test_an_unknown_account_is_held_alike(proxied: Client) -> None:
    for _ in range(LOGIN_PER_ACCOUNT_ADDRESS):
        assert (await login(proxied, "nobody@example.test", "203.0.113.7", WRONG)).status == 401
    await assert_throttled(await login(proxied, "nobody@example.test", "203.0.113.7", WRONG))
    assert (await login(proxied, "nobody@example.test", "203.0.113.8", WRONG)).status == 401


async def test_the_account_ceiling_holds_new_addresses_but_not_a_known_one(
    proxied: Client, proxied_app: web.Application, world: World,
) -> None:
    proxied_app[THROTTLES].login_account.limit = CEILING
    user = await world.user(await world.org())
    home = "198.51.100.20"
    assert (await login(proxied, user["email"], home)).status == 200  # signed in before
    attackers = CEILING // LOGIN_PER_ACCOUNT_ADDRESS
    for n in range(attackers):
        for _ in range(LOGIN_PER_ACCOUNT_ADDRESS):
            response = await login(proxied, user["email"], f"203.0.113.{n + 1}", WRONG)
            assert response.status == 401
    # Guessing spread over many addresses hits the ceiling: a fresh address waits...
    await assert_throttled(await login(proxied, user["email"], "192.0.2.99"))
    await assert_throttled(await login(proxied, user["email"], "192.0.2.98", WRONG))
    # ...but the address the owner signed in from before still gets through,
    assert (await login(proxied, user["email"], home)).status == 200
    # and being known does not lift the strict limit of that address.
    for _ in range(LOGIN_PER_ACCOUNT_ADDRESS):
        assert (await login(proxied, user["email"], home, WRONG)).status == 401
    await assert_throttled(await login(proxied, user["email"], home))


async def test_change_password_is_throttled_per_user(proxied: Client, world: World) -> None:
    user = await world.user(await world.org(), "designer")
    tokens = await (await login(proxied, user["email"], "198.51.100.20")).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}",
               "X-Forwarded-For": "198.51.100.20"}

    async def change(current: str, address: str = "198.51.100.20") -> Any:
        return await proxied.post(
            "/api/v1/auth/change-password", headers={**headers, "X-Forwarded-For": address},
            json={"current_password": current, "new_password": "A much better one 42"})

    for _ in range(PASSWORD_CHANGE_PER_USER):
        assert (await change(WRONG)).status == 422
    await assert_throttled(await change(PASSWORD))
    await assert_throttled(await change(PASSWORD, "192.0.2.1"))  # per user, any address
    assert (await login(proxied, user["email"], "198.51.100.20")).status == 200


async def test_change_password_is_throttled_per_address(
    proxied: Client, proxied_app: web.Application, world: World,
) -> None:
    proxied_app[THROTTLES].password_address.limit = CEILING
    org = await world.org()
    address = "203.0.113.50"

    async def signed_in() -> dict[str, str]:
        user = await world.user(org, "designer")
        tokens = await (await login(proxied, user["email"], "198.51.100.20")).json()
        return {"Authorization": f"Bearer {tokens['access_token']}", "X-Forwarded-For": address}

    async def change(headers: dict[str, str], current: str) -> Any:
        return await proxied.post(
            "/api/v1/auth/change-password", headers=headers,
            json={"current_password": current, "new_password": "A much better one 42"})

    failures = 0
    while failures < CEILING:
        headers = await signed_in()
        for _ in range(min(PASSWORD_CHANGE_PER_USER, CEILING - failures)):
            assert (await change(headers, WRONG)).status == 422
            failures += 1
    await assert_throttled(await change(await signed_in(), PASSWORD))


async def test_reset_answers_alike_and_mails_after_answering(
    proxied: Client, proxied_app: web.Application, world: World,
) -> None:
    user = await world.user(await world.org(), "coordinator")
    answers = []
    for email in (user["email"], "nobody@example.test"):
        response = await proxied.post("/api/v1/auth/password-reset/request",
                                      json={"email": email})
        headers = {k: v for k, v in response.headers.items()
                   if k not in ("Date", "X-Request-ID")}
        answers.append((response.status, await response.read(), headers))
    assert answers[0] == answers[1]
    assert answers[0][0] == 202
    await proxied_app[BACKGROUND].settle()
    outbox: Outbox = proxied_app[MAILER]
    assert [mail.to for mail in outbox.sent] == [user["email"]]
    assert "token=" in outbox.sent[0].body


async def test_reset_requests_are_throttled_per_address(proxied: Client) -> None:
    statuses = []
    for n in range(40):
        response = await proxied.post("/api/v1/auth/password-reset/request",
                                      json={"email": f"someone{n}@example.test"},
                                      headers={"X-Forwarded-For": "203.0.113.9"})
        statuses.append(response.status)
    assert 429 in statuses
    await assert_throttled(response)
    other = await proxied.post("/api/v1/auth/password-reset/request",
                               json={"email": "x@example.test"},
                               headers={"X-Forwarded-For": "203.0.113.10"})
    assert other.status == 202
