"""Rotating JWT_SECRET without logging anyone out: kids, previous keys, a rolling restart."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from aiohttp import web

from server.app import create_app
from server.auth.tokens import issue_access_token, key_id, signing_keys
from server.config import ConfigError, Settings, load_settings
from tests.conftest import PASSWORD, World

OLD, NEW, RETIRED = "o" * 40, "n" * 40, "r" * 40


def _header(token: str) -> dict[str, Any]:
    raw = token.split(".", 1)[0]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    return decoded


async def _worker(aiohttp_client: Any, settings: Settings, secret: str,
                  *previous: str) -> Any:
    app: web.Application = create_app(
        settings.model_copy(update={"jwt_secret": secret, "jwt_previous_secrets": previous}))
    return await aiohttp_client(app)


async def _login(http: Any, email: str) -> dict[str, Any]:
    answer = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert answer.status == 200, await answer.text()
    body: dict[str, Any] = await answer.json()
    return body


async def _me(http: Any, token: str) -> int:
    answer = await http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    status: int = answer.status
    return status


def test_tokens_name_their_key_by_a_hash_never_the_key() -> None:
    token = issue_access_token(signing_keys(NEW), user_id=uuid.uuid4(), org_id=uuid.uuid4(),
                               role="admin", session_id=uuid.uuid4(), ttl=60)
    header = _header(token)
    assert header["kid"] == key_id(NEW) and len(header["kid"]) == 16
    assert NEW not in json.dumps(header) and key_id(OLD) != key_id(NEW)


async def test_a_rolling_restart_accepts_both_keys_in_both_directions(
    aiohttp_client: Any, settings: Settings, world: World,
) -> None:
    user = await world.user(await world.org(), "project_manager")
    old = await _worker(aiohttp_client, settings, OLD)
    new = await _worker(aiohttp_client, settings, NEW, OLD)
    old_listing_new = await _worker(aiohttp_client, settings, OLD, NEW)
    from_old = (await _login(old, user["email"]))["access_token"]
    from_new = (await _login(new, user["email"]))["access_token"]
    assert _header(from_old)["kid"] == key_id(OLD) and _header(from_new)["kid"] == key_id(NEW)
    assert await _me(new, from_old) == 200            # the new worker takes the old tokens
    assert await _me(old_listing_new, from_new) == 200  # and the reverse while both listed
    assert await _me(old, from_new) == 401            # a worker that knows only OLD does not


async def test_a_token_whose_key_is_no_longer_configured_is_refused(
    aiohttp_client: Any, settings: Settings, world: World,
) -> None:
    user = await world.user(await world.org(), "designer")
    retired = await _worker(aiohttp_client, settings, RETIRED)
    token = (await _login(retired, user["email"]))["access_token"]
    current = await _worker(aiohttp_client, settings, NEW, OLD)
    assert await _me(current, token) == 401
    # A forged kid naming a configured key does not help a token signed with another.
    forged = issue_access_token(signing_keys(RETIRED), user_id=user["id"],
                                org_id=user["org_id"], role="admin",
                                session_id=uuid.uuid4(), ttl=60)
    head, rest = forged.split(".", 1)
    fake_head = base64.urlsafe_b64encode(json.dumps(
        {**_header(forged), "kid": key_id(NEW)}).encode()).rstrip(b"=").decode()
    assert await _me(current, f"{fake_head}.{rest}") == 401
    assert head != fake_head


async def test_refresh_keeps_working_across_a_rotation(
    aiohttp_client: Any, settings: Settings, world: World,
) -> None:
    user = await world.user(await world.org(), "coordinator")
    old = await _worker(aiohttp_client, settings, OLD)
    pair = await _login(old, user["email"])
    rotated = await _worker(aiohttp_client, settings, NEW)  # OLD already dropped
    answer = await rotated.post("/api/v1/auth/refresh",
                                json={"refresh_token": pair["refresh_token"]})
    assert answer.status == 200, await answer.text()
    fresh = await answer.json()
    assert _header(fresh["access_token"])["kid"] == key_id(NEW)
    assert await _me(rotated, fresh["access_token"]) == 200
    assert await _me(rotated, pair["access_token"]) == 401  # its key is gone


@pytest.mark.parametrize("previous, message", [
    ("short", "entry 1 is shorter than 32"),
    (f"{OLD},tooshort", "entry 2 is shorter than 32"),
])
def test_a_short_previous_secret_is_a_clear_error_without_the_secret(
    previous: str, message: str,
) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings({"JWT_SECRET": NEW, "JWT_PREVIOUS_SECRETS": previous})
    assert message in str(error.value) and "tooshort" not in str(error.value)


def test_previous_secrets_are_parsed_and_the_current_one_is_not_repeated() -> None:
    loaded = load_settings({"JWT_SECRET": NEW, "JWT_PREVIOUS_SECRETS": f" {OLD} ,{NEW},"})
    assert loaded.jwt_previous_secrets == (OLD,)
    assert load_settings({"JWT_SECRET": NEW}).jwt_previous_secrets == ()
