"""/api/v1/projects/{id}/members: membership decides visibility; managers change it."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import World
from tests.server.api import all_pages, caller, fields


async def test_add_list_remove(client: TestClient[Any, Any], world: World) -> None:
    org = await world.org()
    pm = await caller(client, world, org, "project_manager")
    designer = await caller(client, world, org, "designer")
    project = await world.project(org, members=[pm.user])
    url = f"/api/v1/projects/{project}/members"
    assert (await designer.get(f"/api/v1/projects/{project}"))[0] == 404
    status, member = await pm.post(url, {"user_id": designer.id})
    assert status == 201, member
    assert member["role"] == "designer" and member["user"]["id"] == designer.id
    assert {"id", "version", "created_at", "updated_at"} <= set(member)
    assert (await designer.get(f"/api/v1/projects/{project}"))[0] == 200
    craftsman = await world.user(org, "craftsman")
    status, member = await pm.post(url, {"user_id": str(craftsman["id"]),
                                         "role": "coordinator"})
    assert status == 201 and member["role"] == "coordinator"
    listed = await all_pages(designer, f"{url}?limit=1")
    assert [m["user_id"] for m in listed] == [pm.id, designer.id, str(craftsman["id"])]
    status, body = await pm.post(url, {"user_id": designer.id})
    assert status == 409 and fields(body) == {"user_id"}
    assert (await pm.delete(f"{url}/{designer.id}"))[0] == 204
    assert (await designer.get(f"/api/v1/projects/{project}"))[0] == 404
    assert (await pm.delete(f"{url}/{designer.id}"))[0] == 404
    assert (await pm.delete(f"{url}/not-a-uuid"))[0] == 404


async def test_user_must_be_in_the_org(client: TestClient[Any, Any], world: World) -> None:
    org = await world.org()
    admin = await caller(client, world, org, "admin")
    project = await world.project(org)
    stranger = await world.user(await world.org(), "designer")
    status, body = await admin.post(f"/api/v1/projects/{project}/members",
                                    {"user_id": str(stranger["id"])})
    assert status == 422 and fields(body) == {"user_id"}
    status, body = await admin.post(f"/api/v1/projects/{project}/members",
                                    {"user_id": "x", "role": "boss", "extra": 1})
    assert status == 422 and fields(body) == {"user_id", "role", "extra"}


async def test_roles_and_visibility(client: TestClient[Any, Any], world: World) -> None:
    org = await world.org()
    designer = await caller(client, world, org, "designer")
    pm_elsewhere = await caller(client, world, org, "project_manager")
    project = await world.project(org, members=[designer.user])
    url = f"/api/v1/projects/{project}/members"
    target = await world.user(org, "craftsman")
    assert (await designer.post(url, {"user_id": str(target["id"])}))[0] == 403
    assert (await designer.delete(f"{url}/{designer.id}"))[0] == 403
    # A manager who is not on the project cannot see it: 404, also for members.
    assert (await pm_elsewhere.get(url))[0] == 404
    assert (await pm_elsewhere.post(url, {"user_id": str(target["id"])}))[0] == 404
    stranger = await caller(client, world, await world.org(), "admin")
    assert (await stranger.get(url))[0] == 404
    assert (await stranger.delete(f"{url}/{designer.id}"))[0] == 404


async def test_idempotent_add_and_versioned_remove(client: TestClient[Any, Any],
                                                   world: World) -> None:
    org = await world.org()
    admin = await caller(client, world, org, "admin")
    project = await world.project(org)
    url = f"/api/v1/projects/{project}/members"
    target = await world.user(org, "designer")
    key = {"Idempotency-Key": "add-designer"}
    first = await admin.post(url, {"user_id": str(target["id"])}, headers=key)
    assert first[0] == 201
    assert await admin.post(url, {"user_id": str(target["id"])}, headers=key) == first
    assert (await admin.delete(f"{url}/{target['id']}", headers={"If-Match": '"7"'}))[0] == 412
    results = await asyncio.gather(*(admin.delete(f"{url}/{target['id']}",
                                                  headers={"If-Match": '"1"'})
                                     for _ in range(2)))
    assert sorted(s for s, _ in results) == [204, 404]


async def test_add_by_email(client: TestClient[Any, Any], world: World) -> None:
    org = await world.org()
    pm = await caller(client, world, org, "project_manager")
    project = await world.project(org, members=[pm.user])
    url = f"/api/v1/projects/{project}/members"
    designer = await world.user(org, "designer", email="Deniz.Designer@example.test")
    status, member = await pm.post(url, {"email": "  deniz.designer@EXAMPLE.test",
                                         "role": "coordinator"})
    assert status == 201, member
    assert member["user_id"] == str(designer["id"]) and member["role"] == "coordinator"
    status, body = await pm.post(url, {"email": "deniz.designer@example.test"})
    assert status == 409 and fields(body) == {"email"}
    stranger = await world.user(await world.org(), "designer", email="far@away.test")
    unknown = await pm.post(url, {"email": "nobody@example.test"})
    foreign = await pm.post(url, {"email": stranger["email"]})
    for status, body in (unknown, foreign):
        assert status == 422 and fields(body) == {"email"}
    # Another organisation's user is answered exactly like nobody at all.
    assert {k: v for k, v in unknown[1].items() if k != "request_id"} == \
        {k: v for k, v in foreign[1].items() if k != "request_id"}
    status, body = await pm.post(url, {"email": "not-an-address"})
    assert status == 422 and fields(body) == {"email"}
    status, body = await pm.post(url, {"user_id": str(designer["id"]),
                                       "email": "deniz.designer@example.test"})
    assert status == 422 and fields(body) == {"email"}
    status, body = await pm.post(url, {"role": "designer"})
    assert status == 422 and fields(body) == {"user_id"}


async def test_change_role(client: TestClient[Any, Any], world: World) -> None:
    org = await world.org()
    pm = await caller(client, world, org, "project_manager")
    designer = await caller(client, world, org, "designer")
    project = await world.project(org, members=[pm.user, designer.user])
    url = f"/api/v1/projects/{project}/members/{designer.id}"
    status, member = await pm.patch(url, {"role": "coordinator"}, headers={"If-Match": '"1"'})
    assert status == 200, member
    assert member["role"] == "coordinator" and member["version"] == 2
    assert pm.last.headers["ETag"] == '"2"'
    status, body = await pm.patch(url, {"role": "craftsman"}, headers={"If-Match": '"1"'})
    assert status == 412 and body["current_version"] == 2
    assert (await pm.patch(url, {"role": "boss"}))[0] == 422
    assert (await pm.patch(url, {"role": "designer", "user_id": designer.id}))[0] == 422
    assert (await designer.patch(url, {"role": "admin"}))[0] == 403
    outsider = await world.user(org, "craftsman")
    base = f"/api/v1/projects/{project}/members"
    assert (await pm.patch(f"{base}/{outsider['id']}", {"role": "designer"}))[0] == 404
    assert (await pm.patch(f"{base}/not-a-uuid", {"role": "designer"}))[0] == 404
    stranger = await caller(client, world, await world.org(), "admin")
    assert (await stranger.patch(url, {"role": "designer"}))[0] == 404
    async with world.pool.acquire() as conn:
        changes = await conn.fetch(
            "SELECT changed_fields, user_id FROM audit_logs WHERE table_name = "
            "'project_members' AND action = 'update'")
    assert [(r["changed_fields"], str(r["user_id"])) for r in changes] == [(["role"], pm.id)]


async def test_removal_unassigns_and_tells_the_manager(client: TestClient[Any, Any],
                                                       world: World) -> None:
    org = await world.org()
    admin = await caller(client, world, org, "admin")
    pm = await caller(client, world, org, "project_manager")
    worker = await caller(client, world, org, "craftsman", first_name="Mehmet",
                          last_name="Usta")
    project = await world.project(org, members=[pm.user, worker.user])
    elsewhere = await world.project(org, members=[worker.user], name="Elsewhere")
    async with world.pool.acquire() as conn:
        await conn.execute("UPDATE projects SET project_manager_id = $1 WHERE id = $2",
                           pm.user["id"], project)
        tasks = [await conn.fetchval(
            "INSERT INTO tasks (org_id, project_id, name, assigned_to) VALUES ($1, $2, $3, $4) "
            "RETURNING id", org, where, name, worker.user["id"])
            for where, name in ((project, "Tiling"), (project, "Grout"), (elsewhere, "Paint"))]
    url = f"/api/v1/projects/{project}/members/{worker.id}"
    assert (await admin.delete(url, headers={"If-Match": '"9"'}))[0] == 412
    status, _ = await admin.delete(url, headers={"X-Request-ID": "remove-worker"})
    assert status == 204
    async with world.pool.acquire() as conn:
        assigned = await conn.fetch("SELECT id, assigned_to FROM tasks ORDER BY name")
        audited = await conn.fetch(
            "SELECT record_id, changed_fields FROM audit_logs WHERE table_name = 'tasks' "
            "AND action = 'update' AND request_id = 'remove-worker'")
    assert {r["id"]: r["assigned_to"] for r in assigned} == {
        tasks[0]: None, tasks[1]: None, tasks[2]: worker.user["id"]}
    assert {r["record_id"] for r in audited} == set(tasks[:2])
    assert all(r["changed_fields"] == ["assigned_to"] for r in audited)
    status, page = await pm.get("/api/v1/notifications")
    assert status == 200 and len(page["data"]) == 1
    note = page["data"][0]
    assert note["type"] == "member_removed" and note["project_id"] == str(project)
    assert note["title"] == "Mehmet Usta left the project; 2 tasks unassigned"
    assert sorted(note["data"]["task_ids"]) == sorted(str(t) for t in tasks[:2])
    assert note["data"]["user_id"] == worker.id

    # The manager who removes a member is not told what they just did.
    async with world.pool.acquire() as conn:
        await conn.execute("INSERT INTO project_members (org_id, project_id, user_id, role) "
                           "VALUES ($1, $2, $3, 'craftsman')", org, project, worker.user["id"])
        await conn.execute("UPDATE tasks SET assigned_to = $1 WHERE id = $2",
                           worker.user["id"], tasks[0])
    assert (await pm.delete(url))[0] == 204
    assert len((await pm.get("/api/v1/notifications"))[1]["data"]) == 1
    async with world.pool.acquire() as conn:
        assert await conn.fetchval("SELECT assigned_to FROM tasks WHERE id = $1",
                                   tasks[0]) is None
