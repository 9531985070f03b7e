"""DB_POOL_TIMEOUT: a caller that cannot get a pooled connection in time is answered 503
with Retry-After (REST) or `unavailable` (socket ack), instead of waiting without end."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from server.app import create_app
from server.config import ConfigError, Settings, load_settings
from server.keys import POOL
from tests.conftest import World
from tests.realtime.conftest import Sock


async def test_a_held_pool_answers_503_and_unavailable_within_the_bound(
        aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
        memory_settings: Settings, pool: asyncpg.Pool, world: World,
        socks: Callable[[], Sock]) -> None:
    app = create_app(memory_settings.model_copy(update={"pool_min_size": 1, "pool_max_size": 2,
                                                         "db_pool_timeout": 0.5,
                                                         "cache_enabled": False}))
    http = await aiohttp_client(app)
    org = await world.org()
    member = await world.user(org, "designer")
    project = await world.project(org, members=[member])
    token = await world.token(app, member)
    headers = {"Authorization": f"Bearer {token}"}
    sock = socks()
    await sock.connect(str(http.make_url("")).rstrip("/"), token)
    assert (await http.get(f"/api/v1/projects/{project}", headers=headers)).status == 200

    held = [await app[POOL].acquire(timeout=5) for _ in range(2)]
    try:
        started = time.monotonic()
        answer = await http.get(f"/api/v1/projects/{project}", headers=headers)
        waited = time.monotonic() - started
        assert answer.status == 503 and answer.headers["Retry-After"]
        assert answer.content_type == "application/problem+json"
        assert (await answer.json())["code"] == "unavailable"
        assert waited < 5  # bounded by the setting (0.5 s), not by the test's patience
        ack = await sock.call("subscribe", {"project_id": str(project)})
        assert ack["ok"] is False and ack["error"]["code"] == "unavailable", ack
    finally:
        for conn in held:
            await app[POOL].release(conn)
    await asyncio.sleep(0)
    assert (await http.get(f"/api/v1/projects/{project}", headers=headers)).status == 200
    assert (await sock.call("subscribe", {"project_id": str(project)}))["ok"]


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf"])
def test_a_bad_pool_timeout_is_a_clear_error(value: str) -> None:
    with pytest.raises(ConfigError, match="DB_POOL_TIMEOUT"):
        load_settings({"JWT_SECRET": "j" * 40, "DB_POOL_TIMEOUT": value})


def test_pool_timeout_default_and_fractions() -> None:
    assert load_settings({"JWT_SECRET": "j" * 40}).db_pool_timeout == 5.0
    assert load_settings({"JWT_SECRET": "j" * 40, "DB_POOL_TIMEOUT": "0.25"}
                         ).db_pool_timeout == 0.25
