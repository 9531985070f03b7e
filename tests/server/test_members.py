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
