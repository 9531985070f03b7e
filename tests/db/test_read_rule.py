"""The Python read rule of cached records (`may_read`) is row-level security: for every kind
of caller and every cached table (db/tables.py), it answers what PostgreSQL answers.

A cache hit runs no query, so `may_read` stands in for the policies. Here each caller asks a
probe route, through the real auth middleware, about every record of two organisations:
the probe gives `may_read`'s answer for the record as the cache holds it, and whether a
SELECT through `db.pool.transaction` as the caller returns it. Twice: with the caller's
visible-project set not yet cached, then cached (read ahead with the session). Any
disagreement, either way, fails.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from db.pool import dumps, system_transaction, transaction
from db.tables import CACHED_TABLES
from server.auth.identity import actor
from server.cache.keys import visibility_key
from server.cache.reads import may_read, reads_record
from server.keys import CACHE, POOL
from server.rest import record
from tests.conftest import World

PROBE = "/api/v1/test-read-rule"


async def _probe(request: web.Request) -> web.Response:
    """[item, may_read, RLS] for each `r=<table>:<id>` asked about."""
    answers = []
    for item in request.query.getall("r"):
        table, raw_id = item.split(":", 1)
        assert table in CACHED_TABLES
        record_id = uuid.UUID(raw_id)
        async with system_transaction(request.app[POOL]) as conn:
            row = await conn.fetchrow(
                f"SELECT * FROM {table} WHERE id = $1", record_id)  # noqa: S608 - CACHED_TABLES
        cached = json.loads(dumps(record(row)))  # the record as a cache hit reads it back
        python = await may_read(request, table, cached)
        async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
            rls = await conn.fetchval(
                f"SELECT EXISTS (SELECT 1 FROM {table} WHERE id = $1)",  # noqa: S608 - as above
                record_id)
        answers.append([item, python, rls])
    return web.json_response(answers)


@pytest.fixture
async def app(app: web.Application) -> web.Application:
    app.router.add_get(PROBE, _probe)
    return app


@dataclass
class Universe:
    actors: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: dict[str, dict[uuid.UUID, str]] = field(default_factory=dict)  # table -> id: label

    def add(self, table: str, record_id: uuid.UUID, label: str) -> None:
        self.records.setdefault(table, {})[record_id] = label


async def _project_records(pool: asyncpg.Pool, universe: Universe, org: uuid.UUID,
                           project: uuid.UUID, label: str) -> None:
    async with system_transaction(pool) as conn:
        task = await conn.fetchval("INSERT INTO tasks (org_id, project_id, name) "
                                   "VALUES ($1, $2, 'Fit walnut panels') RETURNING id",
                                   org, project)
        group = await conn.fetchval("INSERT INTO scope_groups (org_id, project_id, name) "
                                    "VALUES ($1, $2, 'Millwork') RETURNING id", org, project)
        item = await conn.fetchval(
            "INSERT INTO scope_items (org_id, project_id, scope_group_id, name) "
            "VALUES ($1, $2, $3, 'Reception desk') RETURNING id", org, project, group)
    universe.add("projects", project, label)
    universe.add("tasks", task, f"task of {label}")
    universe.add("scope_items", item, f"scope item of {label}")


async def _universe(pool: asyncpg.Pool, world: World) -> Universe:
    """Org A: P1 (client C1, managed by `manager`, `member` on its team), P2 (client C2,
    created by `creator`), P3 (no client, no team); org B: PB. A caller of every kind."""
    u = Universe()
    org_a, org_b = await world.org(), await world.org()
    c1 = await world.client_record(org_a, "Mine")
    c2 = await world.client_record(org_a, "Theirs")
    cb = await world.client_record(org_b, "Elsewhere")
    u.actors = {
        "org admin": await world.user(org_a, "admin"),
        "project manager": await world.user(org_a, "project_manager"),
        "member": await world.user(org_a, "designer"),
        "creator": await world.user(org_a, "coordinator"),
        "non-member": await world.user(org_a, "project_manager"),
        "client user": await world.user(org_a, "client", client_id=c1),
        "other client's user": await world.user(org_a, "client", client_id=c2),
        "other-org admin": await world.user(org_b, "admin"),
    }
    p1 = await world.project(org_a, client_id=c1, members=[u.actors["member"]], name="P1")
    p2 = await world.project(org_a, client_id=c2, name="P2")
    p3 = await world.project(org_a, name="P3")
    pb = await world.project(org_b, client_id=cb, name="PB")
    async with system_transaction(pool) as conn:
        await conn.execute("UPDATE projects SET project_manager_id = $2 WHERE id = $1",
                           p1, u.actors["project manager"]["id"])
        await conn.execute("UPDATE projects SET created_by = $2 WHERE id = $1",
                           p2, u.actors["creator"]["id"])
    for client_id, label in ((c1, "C1"), (c2, "C2"), (cb, "CB")):
        u.add("clients", client_id, label)
    for org, project, label in ((org_a, p1, "P1"), (org_a, p2, "P2"), (org_a, p3, "P3"),
                                (org_b, pb, "PB")):
        await _project_records(pool, u, org, project, label)
    return u


async def test_may_read_answers_as_row_level_security_for_every_caller_and_cached_table(
    client: TestClient[Any, Any], app: web.Application, pool: asyncpg.Pool, world: World,
) -> None:
    universe = await _universe(pool, world)
    assert set(universe.records) == CACHED_TABLES, "give every cached table records here"
    labels = {f"{t}:{i}": f"{t} {label}" for t, ids in universe.records.items()
              for i, label in ids.items()}
    asked = [("r", item) for item in labels]
    headers = {role: await world.headers(app, user) for role, user in universe.actors.items()}
    disagreements: list[str] = []
    answers: dict[str, set[bool]] = {table: set() for table in CACHED_TABLES}
    for visible_set in ("not cached", "cached"):
        for role, user in universe.actors.items():
            response = await client.get(PROBE, params=asked, headers=headers[role])
            assert response.status == 200, await response.text()
            for item, python, rls in await response.json():
                answers[item.split(":", 1)[0]].add(rls)
                if python != rls:
                    disagreements.append(f"{role}, {labels[item]} (visible set {visible_set}): "
                                         f"may_read {python}, RLS {rls}")
            assert await app[CACHE].get(visibility_key(user["id"])) is not None, role
    assert disagreements == []
    # Not a vacuous agreement: every cached table has records some callers may read and
    # some they may not.
    assert all(seen == {True, False} for seen in answers.values()), answers


def test_only_a_cached_table_is_read_from_the_cache() -> None:
    with pytest.raises(ValueError):
        reads_record("comments")
