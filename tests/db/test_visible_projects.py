"""app_visible_project_ids() (migration 0034) gives every kind of user the same projects as
the body it replaced, which joined the user to every project and probed the memberships one
project at a time: the migration keeps that body for its downgrade, and the test runs it as
a function of the session's own (pg_temp) beside the new one."""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from tests.conftest import World

MIGRATION = (Path(__file__).parents[2] / "db" / "migrations" / "versions"
             / "0034_visible_projects_by_membership.py")


def _old_body() -> str:
    """0034's frozen copy of the replaced body, as a function in pg_temp."""
    spec = importlib.util.spec_from_file_location("visible_0034", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    header = module.HEADER.replace("FUNCTION app_visible_project_ids()",
                                   "FUNCTION pg_temp.visible_before()")
    return str(header + module.BY_PROJECT)


async def _both(pool: asyncpg.Pool, user_id: uuid.UUID | None,
                org_id: uuid.UUID | None) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """(what the function answers, what the replaced body answers) as the given user of the
    service's role, on one connection (a pg_temp function is its session's own)."""
    async with pool.acquire() as conn:
        await conn.execute(_old_body())
        await conn.execute("GRANT EXECUTE ON FUNCTION pg_temp.visible_before() "
                           "TO formula_pm_app")
        async with conn.transaction(readonly=True):
            await conn.execute(
                "SELECT set_config('role', 'formula_pm_app', true), "
                "set_config('app.user_id', $1, true), set_config('app.org_id', $2, true)",
                str(user_id or ""), str(org_id or ""))
            now = await conn.fetchval("SELECT app_visible_project_ids()")
            before = await conn.fetchval("SELECT pg_temp.visible_before()")
    return set(now), set(before)


async def test_every_kind_of_user_sees_what_they_saw(world: World, pool: asyncpg.Pool) -> None:
    org, other = await world.org(), await world.org()
    client = await world.client_record(org)
    people: dict[str, dict[str, Any]] = {
        "admin": await world.user(org, "admin"),
        "manager": await world.user(org, "project_manager"),
        "author": await world.user(org, "designer"),
        "member": await world.user(org, "craftsman"),
        "nobody": await world.user(org, "coordinator"),
        "client": await world.user(org, "client", client_id=client),
        "other client": await world.user(org, "client"),
        "inactive": await world.user(org, "craftsman", status="inactive"),
        "elsewhere": await world.user(other, "project_manager"),
    }
    managed = await world.project(org, name="Managed")
    authored = await world.project(org, name="Authored", client_id=client)
    joined = await world.project(org, members=[people["member"], people["inactive"]],
                                 name="Joined")
    await world.project(org, name="Unrelated")
    foreign = await world.project(other, members=[people["elsewhere"]], name="Foreign")
    await pool.execute("UPDATE projects SET project_manager_id = $1 WHERE id = $2",
                       people["manager"]["id"], managed)
    await pool.execute("UPDATE projects SET created_by = $1 WHERE id = $2",
                       people["author"]["id"], authored)
    # A membership that should not exist (another organisation's project) grants nothing.
    await pool.execute("INSERT INTO project_members (org_id, project_id, user_id, role) "
                       "VALUES ($1, $2, $3, 'craftsman')", other, foreign,
                       people["member"]["id"])

    expected = {"admin": 4, "manager": 1, "author": 1, "member": 1, "nobody": 0,
                "client": 1, "other client": 0, "inactive": 0, "elsewhere": 1}
    for name, person in people.items():
        now, before = await _both(pool, person["id"], person["org_id"])
        assert now == before, name
        assert len(now) == expected[name], name
    assert (await _both(pool, people["member"]["id"], org))[0] == {joined}
    # The token's organisation must be the user's; no user at all sees nothing.
    assert await _both(pool, people["manager"]["id"], other) == (set(), set())
    assert await _both(pool, None, org) == (set(), set())
