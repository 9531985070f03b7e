"""/api/v1/tasks: CRUD, completion bookkeeping, assignment rules and notifications, roles,
lists on indexed keyset pages with a constant number of statements."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from db.pool import system_transaction, transaction
from server.keys import POOL
from tests.conftest import World, actor_of
from tests.server.api import Caller, all_pages, caller, counting_statements, fields

URL = "/api/v1/tasks"


async def _team(client: TestClient[Any, Any], world: World) -> tuple[Any, Caller, Caller, Any]:
    org = await world.org()
    pm = await caller(client, world, org, "project_manager")
    craftsman = await caller(client, world, org, "craftsman")
    project = await world.project(org, members=[pm.user, craftsman.user])
    return org, pm, craftsman, project


async def _notifications(pool: asyncpg.Pool, user_id: str) -> list[asyncpg.Record]:
    async with system_transaction(pool) as conn:
        return list(await conn.fetch("SELECT * FROM notifications WHERE user_id = $1::uuid",
                                     user_id))


async def test_crud_completion_and_assignment(client: TestClient[Any, Any], world: World,
                                              pool: asyncpg.Pool) -> None:
    _, pm, craftsman, project = await _team(client, world)
    status, task = await pm.post(URL, {"project_id": str(project), "name": "Fit ceiling",
                                       "assigned_to": craftsman.id, "estimated_hours": "12.5",
                                       "due_date": "2026-03-01", "tags": ["ceiling"]})
    assert status == 201, task
    assert task["estimated_hours"] == "12.50" and task["created_by"] == pm.id
    notes = await _notifications(pool, craftsman.id)
    assert [(n["type"], n["data"]["task_id"]) for n in notes] == [("task_assigned", task["id"])]
    path = f"{URL}/{task['id']}"
    status, done = await craftsman.patch(path, {"status": "completed", "actual_hours": 11})
    assert status == 200, done
    assert done["progress"] == 100 and done["completed_at"] is not None
    status, reopened = await craftsman.patch(path, {"status": "in_progress", "progress": 80})
    assert status == 200 and reopened["completed_at"] is None and reopened["progress"] == 80
    assert (await pm.get(path))[1] == reopened
    assert (await pm.delete(path))[0] == 204
    assert (await pm.get(path))[0] == 404
    status, born_done = await pm.post(URL, {"project_id": str(project), "name": "Done",
                                            "status": "completed"})
    assert born_done["progress"] == 100 and born_done["completed_at"] is not None


async def test_assignee_must_be_a_member(client: TestClient[Any, Any], world: World,
                                         pool: asyncpg.Pool) -> None:
    org, pm, _, project = await _team(client, world)
    outsider = await world.user(org, "craftsman")
    status, body = await pm.post(URL, {"project_id": str(project), "name": "x",
                                       "assigned_to": str(outsider["id"])})
    assert status == 422 and fields(body) == {"assigned_to"}
    _, task = await pm.post(URL, {"project_id": str(project), "name": "x"})
    status, body = await pm.patch(f"{URL}/{task['id']}", {"assigned_to": str(outsider["id"])})
    assert status == 422 and fields(body) == {"assigned_to"}
    designer = await world.user(org, "designer")
    await pm.post(f"/api/v1/projects/{project}/members", {"user_id": str(designer["id"])})
    status, body = await pm.patch(f"{URL}/{task['id']}", {"assigned_to": str(designer["id"])})
    assert status == 200 and body["assigned_to"] == str(designer["id"])
    assert len(await _notifications(pool, str(designer["id"]))) == 1
    await pm.patch(f"{URL}/{task['id']}", {"assigned_to": pm.id})  # self: no notification
    assert await _notifications(pool, pm.id) == []


async def test_roles(client: TestClient[Any, Any], world: World) -> None:
    org, pm, craftsman, project = await _team(client, world)
    _, task = await pm.post(URL, {"project_id": str(project), "name": "x"})
    path = f"{URL}/{task['id']}"
    assert (await craftsman.post(URL, {"project_id": str(project), "name": "y"}))[0] == 403
    assert (await craftsman.patch(path, {"name": "renamed"}))[0] == 403
    assert (await craftsman.patch(path, {"progress": 30, "due_date": "2026-01-01"}))[0] == 403
    assert (await craftsman.delete(path))[0] == 403
    assert (await craftsman.patch(path, {"progress": 30}))[0] == 200
    client_id = await world.client_record(org)
    client_user = await caller(client, world, org, "client", client_id=client_id)
    assert (await client_user.patch(path, {"status": "review"}))[0] == 403
    assert (await client_user.post(URL, {"project_id": str(project), "name": "y"}))[0] == 403
    assert (await client_user.delete(path))[0] == 403


async def test_visibility(client: TestClient[Any, Any], world: World) -> None:
    org, pm, _, project = await _team(client, world)
    _, task = await pm.post(URL, {"project_id": str(project), "name": "secret"})
    outsider = await caller(client, world, org, "designer")
    stranger = await caller(client, world, await world.org(), "admin")
    for who in (outsider, stranger):
        assert (await who.get(f"{URL}/{task['id']}"))[0] == 404
        assert (await who.get(f"{URL}?project_id={project}"))[0] == 404
        assert (await who.get(URL))[1]["data"] == []
        assert (await who.patch(f"{URL}/{task['id']}", {"progress": 1}))[0] == 404
        # Designers may not delete tasks at all: permission is checked first.
        expected = 403 if who is outsider else 404
        assert (await who.delete(f"{URL}/{task['id']}"))[0] == expected
        status, body = await who.post(URL, {"project_id": str(project), "name": "in"})
        assert status == 422 and fields(body) == {"project_id"}
    assert (await pm.get(f"{URL}/nonsense"))[0] == 404


async def test_list_filters_and_sorts(client: TestClient[Any, Any], world: World) -> None:
    _, pm, craftsman, project = await _team(client, world)
    specs = [("a", "low", None, None), ("b", "urgent", "2026-02-01", craftsman.id),
             ("c", "high", "2026-01-01", None), ("d", "medium", None, craftsman.id),
             ("e", "low", "2026-03-01", None)]
    for name, priority, due, assignee in specs:
        body = {"project_id": str(project), "name": name, "priority": priority}
        body |= {"due_date": due} if due else {}
        body |= {"assigned_to": assignee} if assignee else {}
        assert (await pm.post(URL, body))[0] == 201
    base = f"{URL}?project_id={project}&limit=2"

    async def names(query: str) -> list[str]:
        return [t["name"] for t in await all_pages(pm, f"{base}&{query}")]

    assert await names("sort=created_at") == ["a", "b", "c", "d", "e"]
    assert await names("sort=-created_at") == ["e", "d", "c", "b", "a"]
    # Ties (a, d without due date; a, e both low) are broken by id: compare them as sets.
    by_due = await names("sort=due_date")
    assert by_due[:3] == ["c", "b", "e"] and set(by_due[3:]) == {"a", "d"}  # undated last
    by_due = await names("sort=-due_date")
    assert set(by_due[:2]) == {"a", "d"} and by_due[2:] == ["e", "b", "c"]
    by_priority = await names("sort=-priority")
    assert by_priority[:3] == ["b", "c", "d"] and set(by_priority[3:]) == {"a", "e"}
    assert await names("sort=name") == ["a", "b", "c", "d", "e"]
    assert await names(f"assigned_to={craftsman.id}&sort=name") == ["b", "d"]
    assert await names("priority=low&sort=name") == ["a", "e"]
    assert await names("status=completed") == []
    status, body = await pm.get(f"{URL}?project_id=x&status=done&sort=colour")
    assert status == 422 and fields(body) == {"project_id", "status"}


async def test_if_match_race_and_idempotency(client: TestClient[Any, Any],
                                             world: World) -> None:
    _, pm, craftsman, project = await _team(client, world)
    key = {"Idempotency-Key": "task-1"}
    body = {"project_id": str(project), "name": "Once"}
    first = await pm.post(URL, body, headers=key)
    assert first[0] == 201 and await pm.post(URL, body, headers=key) == first
    assert len((await pm.get(f"{URL}?project_id={project}"))[1]["data"]) == 1
    assert (await pm.post(URL, {**body, "name": "Twice"}, headers=key))[0] == 422
    path = f"{URL}/{first[1]['id']}"
    results = await asyncio.gather(
        pm.patch(path, {"name": "pm"}, headers={"If-Match": '"1"'}),
        craftsman.patch(path, {"progress": 50}, headers={"If-Match": '"1"'}))
    assert sorted(status for status, _ in results) == [200, 412]
    assert (await pm.delete(path, headers={"If-Match": '"1"'}))[0] == 412


async def test_validation(client: TestClient[Any, Any], world: World) -> None:
    _, pm, _, project = await _team(client, world)
    status, body = await pm.post(URL, {"name": "n" * 301, "status": "done", "progress": 120,
                                       "estimated_hours": "1.234", "start_date": "2026-02-02",
                                       "due_date": "2026-02-01", "tags": "x", "bogus": True})
    assert status == 422
    assert fields(body) >= {"project_id", "name", "status", "progress", "estimated_hours",
                            "tags", "bogus"}
    _, task = await pm.post(URL, {"project_id": str(project), "name": "ok"})
    status, body = await pm.patch(f"{URL}/{task['id']}", {"project_id": str(project),
                                                          "name": None, "progress": None})
    assert status == 422 and fields(body) == {"project_id"}
    status, body = await pm.patch(f"{URL}/{task['id']}", {"name": None, "progress": None})
    assert status == 422 and fields(body) == {"name", "progress"}
    response = await pm.client.post(URL, data=b'{"name": ', headers=pm.headers)
    assert response.status == 400


async def _bulk_tasks(pool: asyncpg.Pool, org: Any, project: Any, count: int) -> None:
    """Many tasks at once, with triggers off (a test fixture, not an application path)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(
            """INSERT INTO tasks (org_id, project_id, name, created_at, due_date)
               SELECT $1, $2, 'Task ' || n, now() - n * interval '1 second',
                      CASE WHEN n % 3 = 0 THEN NULL ELSE date '2026-01-01' + n % 400 END
               FROM generate_series(1, $3) AS n""", org, project, count)
    async with pool.acquire() as conn:
        await conn.execute("ANALYZE tasks")


async def test_listing_10k_tasks_is_constant_work_on_the_index(
    client: TestClient[Any, Any], world: World, pool: asyncpg.Pool,
) -> None:
    org, pm, _, project = await _team(client, world)
    await _bulk_tasks(pool, org, project, 10_000)
    await pm.get(URL)  # warm the session cache: later requests cost no auth statement
    async with counting_statements(client.app[POOL]) as counter:
        per_request = []
        for limit in (10, 200):
            counter.reset()
            status, body = await pm.get(f"{URL}?project_id={project}&limit={limit}")
            assert status == 200 and len(body["data"]) == limit
            per_request.append(len(counter.queries))
        list_sql = next(q for q in counter.queries if "FROM tasks" in q)
    # BEGIN, actor settings, project visibility, the page, COMMIT: whatever the page size.
    assert per_request[0] == per_request[1] <= 5, counter.queries

    started = time.perf_counter()
    seen = await all_pages(pm, f"{URL}?project_id={project}&limit=200")
    elapsed = time.perf_counter() - started
    assert len(seen) == 10_000 and len({t["id"] for t in seen}) == 10_000
    print(f"\n10,000 tasks in 50 pages of 200: {elapsed:.2f}s")
    by_due = await all_pages(pm, f"{URL}?project_id={project}&limit=200&sort=due_date")
    assert len({t["id"] for t in by_due}) == 10_000  # the nullable key pages without gaps
    assert by_due[-1]["due_date"] is None and by_due[0]["due_date"] == "2026-01-01"

    async with transaction(pool, actor_of(pm.user)) as conn:
        plan = "\n".join(r[0] for r in await conn.fetch(
            "EXPLAIN " + list_sql, project))
    assert "ix_tasks_project_id_created_at_id" in plan, plan
