"""Cached task reads stay exact: out-of-band writes, revocations, CACHE_ENABLED=false, metrics."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient

import server.cache.store
from db.pool import transaction
from server.app import create_app
from server.auth.tokens import decode_access_token_cached, issue_access_token, signing_keys
from server.config import ConfigError, Settings, load_settings
from server.errors import Unauthorized
from server.keys import CACHE
from tests.conftest import World, actor_of
from tests.waiting import eventually

Client = TestClient[Any, Any]
LIVENESS = 5.0  # seconds the change leader may take to invalidate (generous)


async def _task(world: World, app: web.Application, pool: asyncpg.Pool,
                role: str = "project_manager") -> tuple[str, dict[str, str], dict[str, Any]]:
    org = await world.org()
    user = await world.user(org, role)
    project = await world.project(org, members=[user])
    async with transaction(pool, actor_of(user)) as conn:
        task = await conn.fetchval(
            "INSERT INTO tasks (org_id, project_id, name) VALUES ($1, $2, 'Hang doors') "
            "RETURNING id", org, project)
    return f"/api/v1/tasks/{task}", await world.headers(app, user), user


async def _metric(client: Client, name: str) -> float:
    text = await (await client.get("/metrics")).text()
    found = re.search(rf"^{name} (\S+)$", text, re.M)
    assert found, text
    return float(found.group(1))


async def test_raw_sql_update_reaches_a_cached_task_through_the_change_leader(
    client: Client, world: World, app: web.Application, pool: asyncpg.Pool,
) -> None:
    url, headers, user = await _task(world, app, pool)
    first = await client.get(url, headers=headers)
    assert (await first.json())["name"] == "Hang doors"
    hits = app[CACHE].stats()["hits"]
    again = await client.get(url, headers=headers)
    assert app[CACHE].stats()["hits"] > hits  # served from the cache
    assert again.headers["ETag"] == first.headers["ETag"]
    task_id = url.rsplit("/", 1)[1]
    async with transaction(pool, actor_of(user)) as conn:  # no API: only the audit stream knows
        await conn.execute("UPDATE tasks SET name = 'Hang fire doors' WHERE id = $1",
                           uuid.UUID(task_id))
    async def renamed() -> tuple[ClientResponse, dict[str, Any]] | None:
        response = await client.get(url, headers=headers)
        body = await response.json()
        return (response, body) if body["name"] == "Hang fire doors" else None

    response, body = await eventually(renamed, limit=LIVENESS, interval=0.05)
    assert response.headers["ETag"] == f'"{body["version"]}"' != first.headers["ETag"]


async def test_metrics_count_cache_hits_and_misses(
    client: Client, world: World, app: web.Application, pool: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A change leaves a tombstone that keeps its record out of the cache for a while; make
    # that while short so that the task gets cached soon after it was created.
    monkeypatch.setattr(server.cache.store, "TOMBSTONE_TTL", 1)
    url, headers, _ = await _task(world, app, pool)
    hits = await _metric(client, "fpm_cache_hits_total")
    misses = await _metric(client, "fpm_cache_misses_total")
    assert (await client.get(url, headers=headers)).status == 200  # the task: a miss
    assert await _metric(client, "fpm_cache_misses_total") > misses
    # Once the change leader has retired what the setup's inserts touched, a read hits the
    # session facts, the visible projects and the task: three hits, no miss.
    async def counts() -> tuple[float, float]:
        return (await _metric(client, "fpm_cache_hits_total"),
                await _metric(client, "fpm_cache_misses_total"))

    async def all_hits() -> tuple[float, float] | None:
        before = await counts()
        assert (await client.get(url, headers=headers)).status == 200
        after = await counts()
        return after if after == (before[0] + 3, before[1]) else None

    after = await eventually(all_hits, limit=1 + LIVENESS, interval=0.05)
    assert after[0] > hits


async def test_with_the_cache_disabled_every_read_goes_to_postgresql(
    aiohttp_client: Any, settings: Settings, world: World, pool: asyncpg.Pool,
) -> None:
    app = create_app(settings.model_copy(update={"cache_enabled": False}))
    http = await aiohttp_client(app)
    url, headers, user = await _task(world, app, pool)
    assert (await http.get(url, headers=headers)).status == 200
    # An update with the triggers off: no audit row, no change event, no invalidation.
    # Only a read that goes to PostgreSQL can see it.
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute("UPDATE tasks SET name = 'Unannounced' WHERE id = $1",
                           uuid.UUID(url.rsplit("/", 1)[1]))
    assert (await (await http.get(url, headers=headers)).json())["name"] == "Unannounced"
    async with pool.acquire() as conn:  # the same for the session behind the token
        await conn.execute("UPDATE user_sessions SET revoked_at = now() WHERE user_id = $1",
                           user["id"])
    assert (await http.get(url, headers=headers)).status == 401
    stats = app[CACHE].stats()
    assert stats["backend"] == "none" and stats["hits"] == 0 and stats["misses"] > 0
    redis = aioredis.from_url(settings.redis_url or "")
    stored = [k async for k in redis.scan_iter(match=f"{settings.key_prefix}*")]
    await redis.aclose()
    assert not [k for k in stored if re.search(rb":(rec|session|vis):", k)]


async def test_a_cached_task_is_refused_after_removal_logout_and_to_another_org(
    client: Client, world: World, app: web.Application, pool: asyncpg.Pool,
) -> None:
    org = await world.org()
    admin = await world.user(org, "admin")
    designer = await world.user(org, "designer")
    project = await world.project(org, members=[designer])
    async with transaction(pool, actor_of(admin)) as conn:
        task = await conn.fetchval("INSERT INTO tasks (org_id, project_id, name) VALUES "
                                   "($1, $2, 'Paint') RETURNING id", org, project)
    url = f"/api/v1/tasks/{task}"
    designer_headers = await world.headers(app, designer)
    admin_headers = await world.headers(app, admin)
    for _ in range(2):  # the second read is a cache hit
        assert (await client.get(url, headers=designer_headers)).status == 200
    stranger = await world.user(await world.org(), "admin")
    assert (await client.get(url, headers=await world.headers(app, stranger))).status == 404
    removed = await client.delete(f"/api/v1/projects/{project}/members/{designer['id']}",
                                  headers=admin_headers)
    assert removed.status == 204
    assert (await client.get(url, headers=designer_headers)).status == 404
    assert (await client.get(url, headers=admin_headers)).status == 200
    assert (await client.post("/api/v1/auth/logout", headers=admin_headers)).status == 204
    assert (await client.get(url, headers=admin_headers)).status == 401


async def test_a_remembered_token_still_expires() -> None:
    keys, now = signing_keys("s" * 48), time.time()
    token = issue_access_token(keys, user_id=uuid.uuid4(), org_id=uuid.uuid4(), role="admin",
                               session_id=uuid.uuid4(), ttl=1, now=now)
    assert decode_access_token_cached(keys, token).role == "admin"
    assert decode_access_token_cached(keys, token).role == "admin"  # remembered
    await asyncio.sleep(max(0.0, now + 1.05 - time.time()))
    with pytest.raises(Unauthorized):
        decode_access_token_cached(keys, token)
    with pytest.raises(Unauthorized):
        decode_access_token_cached(signing_keys("x" * 48), issue_access_token(
            keys, user_id=uuid.uuid4(), org_id=uuid.uuid4(), role="admin",
            session_id=uuid.uuid4(), ttl=60))


def test_remembered_decodes_are_bounded_and_decoded_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import server.auth.tokens as tokens

    keys, decodes = signing_keys("m" * 48), []
    real = tokens.decode_access_token
    monkeypatch.setattr(tokens, "DECODE_MEMORY_SIZE", 3)
    monkeypatch.setattr(tokens, "_decoded", {})
    monkeypatch.setattr(tokens, "decode_access_token",
                        lambda k, t: decodes.append(t) or real(k, t))
    issued = [issue_access_token(keys, user_id=uuid.uuid4(), org_id=uuid.uuid4(),
                                 role="admin", session_id=uuid.uuid4(), ttl=900)
              for _ in range(4)]
    for token in issued[:3] * 2:
        decode_access_token_cached(keys, token)
    assert decodes == issued[:3]  # each decoded once, then remembered
    decode_access_token_cached(keys, issued[3])
    assert len(tokens._decoded) == 3 and (keys, issued[0]) not in tokens._decoded


def test_cache_enabled_setting() -> None:
    assert load_settings({"JWT_SECRET": "j" * 40}).cache_enabled is True
    assert load_settings({"JWT_SECRET": "j" * 40, "CACHE_ENABLED": "false"}).cache_enabled is False
    with pytest.raises(ConfigError, match="CACHE_ENABLED"):
        load_settings({"JWT_SECRET": "j" * 40, "CACHE_ENABLED": "maybe"})
