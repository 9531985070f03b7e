"""/api/v1/projects: creation with membership, lists, visibility, roles, versions, summary."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from aiohttp.test_utils import TestClient

from tests.conftest import World
from tests.server.api import all_pages, caller, fields

URL = "/api/v1/projects"


async def test_creator_becomes_member_and_crud(client: TestClient[Any, Any],
                                               world: World) -> None:
    org = await world.org()
    pm = await caller(client, world, org, "project_manager")
    status, project = await pm.post(URL, {"name": "Levent Tower", "type": "office",
                                          "budget": 250000, "start_date": "2026-01-05",
                                          "end_date": "2026-06-30"})
    assert status == 201, project
    assert project["created_by"] == pm.id and project["budget"] == "250000.00"
    assert project["project_manager_id"] == pm.id  # the creating manager runs it
    assert project["status"] == "draft" and project["priority"] == "medium"
    status, members = await pm.get(f"{URL}/{project['id']}/members")
    assert status == 200
    assert [(m["user_id"], m["role"]) for m in members["data"]] == [(pm.id, "project_manager")]
    path = f"{URL}/{project['id']}"
    status, patched = await pm.patch(path, {"status": "active", "progress": 40,
                                            "description": None})
    assert status == 200 and patched["progress"] == 40 and patched["version"] == 2
    assert (await pm.delete(path))[0] == 403  # only admins delete projects
    admin = await caller(client, world, org, "admin")
    assert (await admin.delete(path))[0] == 204
    assert (await pm.get(path))[0] == 404


async def test_list_filters_sort_and_pages(client: TestClient[Any, Any], world: World) -> None:
    org = await world.org()
    admin = await caller(client, world, org, "admin")
    client_id = await world.client_record(org)
    for i in range(6):
        body = {"name": f"P{i}", "type": "retail" if i % 2 else "office",
                "status": "active" if i < 3 else "on_hold",
                "priority": "high" if i == 5 else "low"}
        if i == 4:
            body["client_id"] = str(client_id)
        assert (await admin.post(URL, body))[0] == 201
    names = [p["name"] for p in await all_pages(admin, f"{URL}?limit=4")]
    assert names == [f"P{i}" for i in reversed(range(6))]  # newest first
    assert [p["name"] for p in await all_pages(admin, f"{URL}?sort=name&limit=1")] == [
        f"P{i}" for i in range(6)]
    for query, expected in (("status=on_hold&type=office", {"P4"}), ("priority=high", {"P5"}),
                            (f"client_id={client_id}", {"P4"})):
        status, body = await admin.get(f"{URL}?{query}")
        assert status == 200 and {p["name"] for p in body["data"]} == expected, query
    status, body = await admin.get(f"{URL}?status=finished&client_id=nope&limit=500")
    assert status == 422 and fields(body) == {"status", "client_id", "limit"}


async def test_visibility(client: TestClient[Any, Any], world: World) -> None:
    org = await world.org()
    member = await caller(client, world, org, "designer")
    outsider = await caller(client, world, org, "designer")
    client_id = await world.client_record(org)
    project = await world.project(org, members=[member.user], client_id=client_id)
    other = await world.project(org, members=[outsider.user], name="Other")
    assert (await member.get(f"{URL}/{project}"))[0] == 200
    assert (await outsider.get(f"{URL}/{project}"))[0] == 404
    assert (await outsider.get(f"{URL}/{project}/summary"))[0] == 404
    assert [p["id"] for p in (await member.get(URL))[1]["data"]] == [str(project)]
    client_user = await caller(client, world, org, "client", client_id=client_id)
    assert [p["id"] for p in (await client_user.get(URL))[1]["data"]] == [str(project)]
    assert (await client_user.get(f"{URL}/{other}"))[0] == 404
    stranger = await caller(client, world, await world.org(), "admin")
    assert (await stranger.get(f"{URL}/{project}"))[0] == 404
    assert (await stranger.patch(f"{URL}/{project}", {"name": "x"}))[0] == 404
    assert (await stranger.delete(f"{URL}/{project}"))[0] == 404
    assert (await stranger.get(f"{URL}/12345"))[0] == 404


async def test_forbidden_roles(client: TestClient[Any, Any], world: World) -> None:
    org = await world.org()
    craftsman = await caller(client, world, org, "craftsman")
    client_user = await caller(client, world, org, "client")
    project = await world.project(org, members=[craftsman.user])
    for who in (craftsman, client_user):
        assert (await who.post(URL, {"name": "No", "type": "office"}))[0] == 403
        assert (await who.patch(f"{URL}/{project}", {"name": "No"}))[0] == 403
        assert (await who.delete(f"{URL}/{project}"))[0] == 403


async def test_references_must_be_in_the_org(client: TestClient[Any, Any],
                                             world: World) -> None:
    org, elsewhere = await world.org(), await world.org()
    pm = await caller(client, world, org, "project_manager")
    foreign_client = await world.client_record(elsewhere)
    foreign_user = await world.user(elsewhere, "project_manager")
    status, body = await pm.post(URL, {"name": "X", "type": "office",
                                       "client_id": str(foreign_client),
                                       "project_manager_id": str(foreign_user["id"])})
    assert status == 422 and fields(body) == {"client_id", "project_manager_id"}
    colleague = await world.user(org, "project_manager")
    status, body = await pm.post(URL, {"name": "X", "type": "office",
                                       "project_manager_id": str(colleague["id"])})
    assert status == 201 and body["project_manager_id"] == str(colleague["id"])


async def test_validation_and_bad_json(client: TestClient[Any, Any], world: World) -> None:
    pm = await caller(client, world, await world.org(), "project_manager")
    status, body = await pm.post(URL, {"name": "", "type": "castle", "budget": "1.999",
                                       "start_date": "2026-05-01", "end_date": "2026-04-01",
                                       "priority": "whenever", "description": "d" * 100_001,
                                       "owner": "me"})
    assert status == 422
    assert fields(body) >= {"name", "type", "budget", "priority", "description", "owner"}
    status, body = await pm.post(URL, {"name": "Ok", "type": "office",
                                       "start_date": "2026-05-01", "end_date": "2026-04-01"})
    assert status == 422 and fields(body) == {"end_date"}
    status, body = await pm.post(URL, {"name": "Ok", "type": "office", "start_date": "tomorrow"})
    assert status == 422 and fields(body) == {"start_date"}
    _, project = await pm.post(URL, {"name": "Ok", "type": "office", "start_date": "2026-05-01"})
    status, body = await pm.patch(f"{URL}/{project['id']}", {"end_date": "2026-01-01"})
    assert status == 422  # against the stored start date: the CHECK constraint answers
    status, body = await pm.patch(f"{URL}/{project['id']}", {"progress": 101, "type": None})
    assert status == 422 and fields(body) == {"progress"}
    response = await client.patch(f"{URL}/{project['id']}", data=b"[1,", headers=pm.headers)
    assert response.status == 400


async def test_if_match_race_and_idempotency(client: TestClient[Any, Any],
                                             world: World) -> None:
    pm = await caller(client, world, await world.org(), "project_manager")
    key = {"Idempotency-Key": "new-project"}
    first = await pm.post(URL, {"name": "Once", "type": "office"}, headers=key)
    assert await pm.post(URL, {"name": "Once", "type": "office"}, headers=key) == first
    assert len((await pm.get(URL))[1]["data"]) == 1
    assert (await pm.post(URL, {"name": "Other", "type": "office"}, headers=key))[0] == 422
    path = f"{URL}/{first[1]['id']}"
    results = await asyncio.gather(*(
        pm.patch(path, {"name": f"Writer {i}"}, headers={"If-Match": '"1"'}) for i in range(3)))
    assert sorted(status for status, _ in results) == [200, 412, 412]
    assert pm.last.headers.get("ETag") in ('"2"', None)


async def test_summary_counts(client: TestClient[Any, Any], world: World) -> None:
    org = await world.org()
    pm = await caller(client, world, org, "project_manager")
    _, project = await pm.post(URL, {"name": "Summary", "type": "office", "budget": "1000"})
    for status in ("pending", "pending", "completed"):
        assert (await pm.post("/api/v1/tasks", {"project_id": project["id"], "name": "t",
                                                "status": status}))[0] == 201
    status, summary = await pm.get(f"{URL}/{project['id']}/summary")
    assert status == 200
    assert summary["tasks_total"] == 3
    assert summary["tasks_by_status"] == {"pending": 2, "completed": 1}
    assert summary["team_size"] == 1 and summary["budget_remaining"] == "1000.00"
    assert UUID(summary["project_id"]) == UUID(project["id"])


async def test_manager_defaults_to_the_creating_manager(client: TestClient[Any, Any],
                                                        world: World) -> None:
    org = await world.org()
    pm = await caller(client, world, org, "project_manager")
    admin = await caller(client, world, org, "admin")
    status, body = await pm.post(URL, {"name": "None", "type": "office",
                                       "project_manager_id": None})
    assert status == 201 and body["project_manager_id"] is None  # named explicitly: kept
    status, body = await admin.post(URL, {"name": "By admin", "type": "office"})
    assert status == 201 and body["project_manager_id"] is None  # admins are not managers
    status, body = await pm.post(URL, {"name": "Mine", "type": "office"})
    assert status == 201 and body["project_manager_id"] == pm.id
