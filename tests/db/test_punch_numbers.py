"""Punch item numbers from two workers (two pools, as two processes would have): no gaps, no
duplicates, walks take consecutive numbers, a rolled-back creation gives its numbers back."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from db.pool import create_pool, transaction
from db.queries import punch_items
from tests.conftest import World, actor_of


async def _create(pool: asyncpg.Pool, user: dict[str, object], project: uuid.UUID,
                  n: int, fail: bool = False) -> list[int]:
    try:
        async with transaction(pool, actor_of(user)) as conn:
            first = await punch_items.next_numbers(conn, project, n)
            await asyncio.sleep(0.01)  # hold the counter row a little while
            rows = await punch_items.create_many(conn, [
                {"org_id": user["org_id"], "project_id": project, "number": first + i,
                 "title": "Snag", "created_by": user["id"], "priority": "medium",
                 "category": "defect"} for i in range(n)])
            if fail:
                raise RuntimeError("rolled back")
            return [r["number"] for r in rows]
    except RuntimeError:
        return []


async def test_two_workers_number_without_gaps(pool: asyncpg.Pool, database_url: str,
                                               world: World) -> None:
    org = await world.org()
    designer = await world.user(org, "designer")
    project = await world.project(org, members=[{"id": designer["id"], "role": "designer"}])
    other = await create_pool(database_url, min_size=1, max_size=6)
    try:
        jobs = [_create(pool if i % 2 else other, designer, project, n=1 + i % 3,
                        fail=(i % 7 == 3)) for i in range(30)]
        done = await asyncio.gather(*jobs)
    finally:
        await other.close()
    for numbers in done:  # each creation's numbers are consecutive
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers))) if numbers else True
    kept = sorted(n for numbers in done for n in numbers)
    assert kept == list(range(1, len(kept) + 1))
    assert len(kept) == sum(1 + i % 3 for i in range(30) if i % 7 != 3)


async def test_no_number_for_a_project_the_user_cannot_see(pool: asyncpg.Pool,
                                                           world: World) -> None:
    org = await world.org()
    outsider = await world.user(org, "designer")
    project = await world.project(org)
    async with transaction(pool, actor_of(outsider)) as conn:
        try:
            await punch_items.next_numbers(conn, project)
        except asyncpg.InsufficientPrivilegeError:
            pass
        else:
            raise AssertionError("a number for a project the user cannot see")
