"""A write confirmed in the database starts from the worker's own copy of the session:
no read of the shared cache before it, and still no answer but 401 to a session that has
ended — revoked on this worker or another, expired, its user deactivated or given another
role — whatever the request was (issue 25)."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from server.app import create_app
from server.auth.identity import SESSION_CACHE_TTL, SESSION_CACHE_TTL_LEAST, session_cache_key
from server.auth.session_copies import SessionCopies, is_confirmed_in_database
from server.auth.tokens import decode_access_token_cached, signing_keys
from server.config import Settings
from server.keys import CACHE, MAILER, POOL, REDIS, SESSION_COPIES, SETTINGS
from tests.conftest import Outbox, World
from tests.server.api import Caller, caller, counting_statements

Client = TestClient[Any, Any]


class SessionReads:
    """Counts the session reads of the shared cache (the real calls still run)."""

    def __init__(self, app: web.Application, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        cache = app[CACHE]
        real = cache.prefetch

        async def counted(keys: Any) -> Any:
            self.count += any(str(k).startswith("session:") for k in keys)
            return await real(keys)

        monkeypatch.setattr(cache, "prefetch", counted)


async def _task(world: World, pm: Caller) -> str:
    project = await world.project(pm.user["org_id"], members=[pm.user])
    status, task = await pm.post("/api/v1/tasks", {"project_id": str(project), "name": "Grid"})
    assert status == 201, task
    return f"/api/v1/tasks/{task['id']}"


async def _warm(pm: Caller, path: str) -> None:
    """A write that reads the session the ordinary way, and leaves this worker its copy."""
    status, body = await pm.patch(path, {"progress": 5})
    assert status == 200, body


async def _warm_writer(client: Client, world: World, org: uuid.UUID | None = None
                       ) -> tuple[Caller, str]:
    """A project manager of a new task's project whose session this worker holds a copy of,
    and the task's path."""
    pm = await caller(client, world, org or await world.org(), "project_manager")
    path = await _task(world, pm)
    await _warm(pm, path)
    return pm, path


async def _refused_every_way(pm: Caller, path: str, pool: asyncpg.Pool) -> None:
    """A valid write, an invalid one, one of a missing record and a delete: all 401, and
    the task is as it was."""
    async with pool.acquire() as conn:
        before = await conn.fetchrow("SELECT progress, version FROM tasks WHERE id = $1",
                                     uuid.UUID(path.rsplit("/", 1)[1]))
    assert before is not None
    for method, target, body in (
        ("PATCH", path, {"progress": 60}),
        ("PATCH", path, {"progress": "lots"}),
        ("PATCH", f"/api/v1/tasks/{uuid.uuid4()}", {"progress": 60}),
        ("DELETE", path, None),
    ):
        status, problem = await pm.call(method, target, body)
        assert status == 401, (method, target, problem)
        assert problem["code"] == "invalid_token"
    async with pool.acquire() as conn:
        after = await conn.fetchrow("SELECT progress, version FROM tasks WHERE id = $1",
                                    uuid.UUID(path.rsplit("/", 1)[1]))
    assert after == before


async def test_a_warm_write_reads_no_session_and_is_still_four_statements(
    client: Client, world: World, monkeypatch: pytest.MonkeyPatch,
) -> None:
    pm, path = await _warm_writer(client, world)
    reads = SessionReads(client.app, monkeypatch)
    async with counting_statements(client.app[POOL]) as counter:
        status, task = await pm.patch(path, {"progress": 20})
    assert status == 200 and task["progress"] == 20
    assert reads.count == 0
    assert len(counter.queries) == 4, counter.queries
    assert "fpm_session_alive(" in counter.queries[0]
    # A read still checks the session in the shared cache (with what it reads ahead).
    assert (await pm.get(path))[0] == 200
    assert reads.count == 1


async def test_a_refused_request_is_answered_only_after_the_ordinary_check(
    client: Client, world: World, monkeypatch: pytest.MonkeyPatch,
) -> None:
    pm, path = await _warm_writer(client, world)
    reads = SessionReads(client.app, monkeypatch)
    status, problem = await pm.patch(path, {"progress": "lots"})
    assert status == 422, problem
    assert reads.count == 1  # no transaction confirmed the session: the cache did


async def test_logout_refuses_the_next_write_at_once(
    client: Client, world: World, pool: asyncpg.Pool,
) -> None:
    pm, path = await _warm_writer(client, world)
    assert (await pm.post("/api/v1/auth/logout"))[0] == 204
    await _refused_every_way(pm, path, pool)


async def test_a_session_ended_on_another_worker_is_refused_by_this_one(
    client: Client, world: World, pool: asyncpg.Pool, settings: Settings,
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> None:
    other = create_app(settings)
    other[MAILER] = Outbox()
    second = await aiohttp_client(other)
    pm, path = await _warm_writer(client, world)
    elsewhere = Caller(second, pm.user, pm.headers)
    assert (await elsewhere.post("/api/v1/auth/logout"))[0] == 204
    # This worker never heard of it, and still holds its copy of the live session.
    assert client.app[SESSION_COPIES].get(uuid.UUID(_sid(client, pm))) is not None
    await _refused_every_way(pm, path, pool)


async def test_deactivation_and_role_change_refuse_the_next_write(
    client: Client, world: World, pool: asyncpg.Pool,
) -> None:
    org = await world.org()
    admin = await caller(client, world, org, "admin")
    for change in ({"role": "coordinator"}, {"status": "inactive"}):
        pm, path = await _warm_writer(client, world, org)
        status, body = await admin.patch(f"/api/v1/users/{pm.id}", change)
        assert status == 200, body
        await _refused_every_way(pm, path, pool)


async def test_the_database_refuses_what_the_shared_cache_still_holds(
    client: Client, world: World, pool: asyncpg.Pool,
) -> None:
    """A session ended by raw SQL (no cache invalidation): a write confirmed in the database
    is refused at once, and from then on every request."""
    pm, path = await _warm_writer(client, world)
    async with pool.acquire() as conn:
        await conn.execute("UPDATE user_sessions SET expires_at = now() - interval '1 second' "
                           "WHERE id = $1", uuid.UUID(_sid(client, pm)))
    status, problem = await pm.patch(path, {"progress": 60})
    assert status == 401, problem
    assert client.app[SESSION_COPIES].get(uuid.UUID(_sid(client, pm))) is None
    # The shared entry is forgotten too: reads are refused from now on as well.
    assert (await pm.get(path))[0] == 401


async def test_the_check_is_the_app_roles_alone(pool: asyncpg.Pool) -> None:
    signature = "fpm_session_alive(uuid, uuid, uuid, text)"
    async with pool.acquire() as conn:
        for role, allowed in (("formula_pm_app", True), ("formula_pm_system", False),
                              ("public", False)):
            assert await conn.fetchval(
                "SELECT has_function_privilege($1, $2, 'EXECUTE')", role, signature) is allowed
        with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError):
            await conn.fetchval("SELECT fpm_session_alive($1, $2, $3, 'admin')",
                                uuid.uuid4(), uuid.uuid4(), uuid.uuid4())


async def test_no_copies_without_a_shared_cache(
    aiohttp_client: Callable[..., Awaitable[Client]], memory_settings: Settings,
) -> None:
    app = create_app(memory_settings)
    await aiohttp_client(app)
    assert SESSION_COPIES not in app


def test_copies_expire_are_bounded_and_dropped() -> None:
    now = [0.0]
    copies = SessionCopies(30, max_items=2, clock=lambda: now[0])
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    copies.put(a, b"a")
    copies.put(b, b"b")
    copies.put(c, b"c")
    assert copies.get(a) is None and copies.get(b) == b"b" and len(copies) == 2
    copies.drop(b)
    assert copies.get(b) is None
    now[0] = 31.0
    assert copies.get(c) is None and len(copies) == 0


def _sid(client: Client, pm: Caller) -> str:
    conf = client.app[SETTINGS]
    token = pm.headers["Authorization"].split(" ", 1)[1]
    keys = signing_keys(conf.jwt_secret, conf.jwt_previous_secrets)
    return str(decode_access_token_cached(keys, token).session_id)


async def test_session_entries_expire_spread_out(client: Client, world: World) -> None:
    """Sessions cached together (a crowd of sockets connecting at once) must not all be
    reloaded from PostgreSQL in the same second."""
    org = await world.org()
    ttls = set()
    for _ in range(12):
        pm = await caller(client, world, org, "project_manager")
        assert (await pm.get("/api/v1/auth/me"))[0] == 200
        key = client.app[CACHE].prefix + session_cache_key(_sid(client, pm))
        ttls.add(await client.app[REDIS].ttl(key))
    assert all(SESSION_CACHE_TTL_LEAST - 1 <= t <= SESSION_CACHE_TTL for t in ttls), ttls
    assert len(ttls) > 1


async def test_every_handler_confirmed_in_database_refuses_an_ended_session(
    client: Client, world: World, pool: asyncpg.Pool,
) -> None:
    """Whatever a marked route is sent by a session that ended while this worker held its
    copy, the answer is 401 and nothing is written."""
    pm, path = await _warm_writer(client, world)
    assert (await pm.post("/api/v1/auth/logout"))[0] == 204
    marked = [(r.method, r.resource.canonical) for r in client.app.router.routes()
              if r.resource is not None and is_confirmed_in_database(r.handler)]
    assert len(marked) >= 12, marked
    async with pool.acquire() as conn:
        before = await conn.fetchval("SELECT count(*) FROM audit_logs")
    for method, template in marked:
        # The task's routes name the real task (a row that would change); the rest none.
        url = path if template == "/api/v1/tasks/{id}" else re.sub(
            r"\{[^}]+\}", str(uuid.uuid4()), template)
        for body in ({}, {"progress": 1}):  # the second a valid change of the task
            # As if taken before the logout (a refused request drops the copy).
            client.app[SESSION_COPIES].put(uuid.UUID(_sid(client, pm)), _live_facts(pm))
            status, problem = await pm.call(method, url, body)
            assert status == 401, (method, url, problem)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM audit_logs") == before


def _live_facts(pm: Caller) -> bytes:
    """Session facts saying alive, as the shared cache holds them (a copy taken before the
    logout)."""
    return json.dumps({
        "user_id": pm.id, "org_id": str(pm.user["org_id"]), "role": pm.user["role"],
        "status": "active", "email": pm.user["email"], "client_id": None, "revoked": False,
        "expires_at": time.time() + 3600}).encode()
