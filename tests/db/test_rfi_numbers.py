"""RFI numbers from two workers (two pools, as two processes would have): no gaps, no
duplicates, and a rolled-back creation gives its number back."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from db.pool import create_pool, transaction
from db.queries import rfis
from rules.rfis import number
from tests.conftest import World, actor_of


async def _create(pool: asyncpg.Pool, user: dict[str, object], project: uuid.UUID,
                  fail: bool = False) -> int | None:
    try:
        async with transaction(pool, actor_of(user)) as conn:
            seq = await rfis.next_seq(conn, project)
            await asyncio.sleep(0.01)  # hold the counter row a little while
            await rfis.create(conn, {"org_id": user["org_id"], "project_id": project,
                                     "seq": seq, "number": number(seq), "subject": "S",
                                     "question": "Q", "created_by": user["id"]})
            if fail:
                raise RuntimeError("rolled back")
            return seq
    except RuntimeError:
        return None


async def test_two_workers_number_without_gaps(pool: asyncpg.Pool, database_url: str,
                                               world: World) -> None:
    org = await world.org()
    designer = await world.user(org, "designer")
    project = await world.project(org, members=[{"id": designer["id"], "role": "designer"}])
    other = await create_pool(database_url, min_size=1, max_size=6)
    try:
        jobs = [_create(pool if i % 2 else other, designer, project, fail=(i % 7 == 3))
                for i in range(30)]
        done = await asyncio.gather(*jobs)
    finally:
        await other.close()
    kept = sorted(s for s in done if s is not None)
    assert kept == list(range(1, len(kept) + 1))
    assert len(kept) == 30 - sum(1 for i in range(30) if i % 7 == 3)


async def test_a_user_who_cannot_see_the_project_gets_no_number(pool: asyncpg.Pool,
                                                                world: World) -> None:
    org = await world.org()
    outsider = await world.user(org, "designer")
    project = await world.project(org)
    async with transaction(pool, actor_of(outsider)) as conn:
        try:
            await rfis.next_seq(conn, project)
        except asyncpg.InsufficientPrivilegeError:
            pass
        else:
            raise AssertionError("a number for a project the user cannot see")
