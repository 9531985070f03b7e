"""app_visible_project_ids() (migration 0034) gives every kind of user the same projects as
the body it replaced, which joined the user to every project and probed the memberships one
project at a time — kept here as the reference."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from db.pool import Actor, transaction
from tests.conftest import World

REFERENCE = """
SELECT coalesce(array_agg(p.id), '{}')
FROM users u
JOIN projects p ON p.org_id = u.org_id
WHERE u.id = app_user_id() AND u.org_id = app_org_id() AND u.status = 'active'
  AND CASE
        WHEN u.role = 'admin' THEN true
        WHEN u.role = 'client' THEN p.client_id = u.client_id
        ELSE p.project_manager_id = u.id OR p.created_by = u.id
          OR EXISTS (SELECT 1 FROM project_members m
                     WHERE m.project_id = p.id AND m.user_id = u.id)
      END
"""


async def _both(pool: asyncpg.Pool, user_id: uuid.UUID | None,
                org_id: uuid.UUID | None) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """(what the function answers, what the reference answers) as the given actor."""
    async with transaction(pool, Actor(user_id, org_id, "x"), readonly=True) as conn:
        now = await conn.fetchval("SELECT app_visible_project_ids()")
        before = await conn.fetchval(REFERENCE)
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
