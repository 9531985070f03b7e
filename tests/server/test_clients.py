"""/api/v1/clients: CRUD, lists, who may read and write, versions, idempotency, validation."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from aiohttp.test_utils import TestClient

from tests.conftest import World
from tests.server.api import all_pages, caller, fields

URL = "/api/v1/clients"


async def test_admin_crud_round_trip(client: TestClient[Any, Any], world: World) -> None:
    admin = await caller(client, world, await world.org(), "admin")
    status, created = await admin.post(URL, {"name": "Akbank", "contract_value": "12500.00",
                                             "industry": "banking", "email": "ops@akbank.test"})
    assert status == 201, created
    assert created["contract_value"] == "12500.00" and created["version"] == 1
    assert {"id", "version", "created_at", "updated_at"} <= set(created)
    assert "search_vector" not in created
    status, got = await admin.get(f"{URL}/{created['id']}")
    assert status == 200 and got == created
    assert admin.last.headers["ETag"] == '"1"'
    status, patched = await admin.patch(f"{URL}/{created['id']}",
                                        {"status": "prospect", "contract_value": 99.5})
    assert status == 200 and patched["status"] == "prospect"
    assert patched["contract_value"] == "99.50" and patched["version"] == 2
    assert (await admin.delete(f"{URL}/{created['id']}"))[0] == 204
    assert (await admin.get(f"{URL}/{created['id']}"))[0] == 404


async def test_list_pages_sorts_and_filters(client: TestClient[Any, Any], world: World) -> None:
    org = await world.org()
    admin = await caller(client, world, org, "admin")
    for i in range(7):
        await admin.post(URL, {"name": f"Client {i}", "status": "active" if i % 2 else "prospect"})
    names = [c["name"] for c in await all_pages(admin, f"{URL}?limit=3")]
    assert names == [f"Client {i}" for i in range(7)]
    names = [c["name"] for c in await all_pages(admin, f"{URL}?limit=2&sort=-name")]
    assert names == [f"Client {i}" for i in reversed(range(7))]
    status, body = await admin.get(f"{URL}?status=prospect&limit=200")
    assert status == 200 and {c["name"] for c in body["data"]} == {"Client 0", "Client 2",
                                                                   "Client 4", "Client 6"}
    status, body = await admin.get(f"{URL}?sort=colour")
    assert status == 422 and fields(body) == {"sort"}
    status, body = await admin.get(f"{URL}?cursor=garbage")
    assert status == 422 and fields(body) == {"cursor"}


async def test_visibility_staff_client_and_other_org(client: TestClient[Any, Any],
                                                     world: World) -> None:
    org = await world.org()
    admin = await caller(client, world, org, "admin")
    _, mine = await admin.post(URL, {"name": "Mine"})
    _, other = await admin.post(URL, {"name": "Other"})
    designer = await caller(client, world, org, "designer")
    assert len((await designer.get(URL))[1]["data"]) == 2

    client_user = await caller(client, world, org, "client", client_id=UUID(mine["id"]))
    _, body = await client_user.get(URL)
    assert [c["id"] for c in body["data"]] == [mine["id"]]
    assert (await client_user.get(f"{URL}/{other['id']}"))[0] == 404
    stranger = await caller(client, world, await world.org(), "admin")
    assert (await stranger.get(f"{URL}/{mine['id']}"))[0] == 404
    assert (await stranger.patch(f"{URL}/{mine['id']}", {"name": "x"}))[0] == 404
    assert (await stranger.delete(f"{URL}/{mine['id']}"))[0] == 404
    assert (await admin.get(f"{URL}/not-a-uuid"))[0] == 404


async def test_only_admins_write(client: TestClient[Any, Any], world: World) -> None:
    org = await world.org()
    admin = await caller(client, world, org, "admin")
    _, existing = await admin.post(URL, {"name": "Existing"})
    for role in ("project_manager", "designer", "craftsman", "client"):
        who = await caller(client, world, org, role)
        if role != "project_manager":
            assert (await who.post(URL, {"name": "Nope"}))[0] == 403, role
        assert (await who.patch(f"{URL}/{existing['id']}", {"name": "x"}))[0] == 403, role
        assert (await who.delete(f"{URL}/{existing['id']}"))[0] == 403, role


async def test_if_match_and_concurrent_patches(client: TestClient[Any, Any],
                                               world: World) -> None:
    admin = await caller(client, world, await world.org(), "admin")
    _, created = await admin.post(URL, {"name": "Race"})
    path = f"{URL}/{created['id']}"
    results = await asyncio.gather(*(
        admin.patch(path, {"notes": f"writer {i}"}, headers={"If-Match": '"1"'})
        for i in range(2)))
    assert sorted(status for status, _ in results) == [200, 412]
    stale = next(body for status, body in results if status == 412)
    assert stale["current_version"] == 2
    assert (await admin.delete(path, headers={"If-Match": '"1"'}))[0] == 412
    assert (await admin.patch(path, {"notes": "x"}, headers={"If-Match": "nonsense"}))[0] == 400
    assert (await admin.delete(path, headers={"If-Match": '"2"'}))[0] == 204


async def test_idempotent_create(client: TestClient[Any, Any], world: World) -> None:
    admin = await caller(client, world, await world.org(), "admin")
    key = {"Idempotency-Key": "client-create-1"}
    first = await admin.post(URL, {"name": "Once"}, headers=key)
    again = await admin.post(URL, {"name": "Once"}, headers=key)
    assert first == again and first[0] == 201
    assert admin.last.headers["Idempotent-Replayed"] == "true"
    assert len((await admin.get(URL))[1]["data"]) == 1
    status, body = await admin.post(URL, {"name": "Twice"}, headers=key)
    assert status == 422 and body["code"] == "idempotency_key_reused"


async def test_validation_lists_every_bad_field(client: TestClient[Any, Any],
                                                world: World) -> None:
    admin = await caller(client, world, await world.org(), "admin")
    status, body = await admin.post(URL, {"name": "x" * 301, "status": "gone",
                                          "contract_value": "12.345", "colour": "red",
                                          "email": "not-an-email"})
    assert status == 422
    assert fields(body) == {"name", "status", "contract_value", "colour", "email"}
    status, body = await admin.post(URL, {"contract_value": -1})
    assert status == 422 and fields(body) == {"name", "contract_value"}
    _, created = await admin.post(URL, {"name": "Valid"})
    status, body = await admin.patch(f"{URL}/{created['id']}", {"name": None, "status": None})
    assert status == 422 and fields(body) == {"name", "status"}
    response = await client.post(URL, data=b"{not json", headers=admin.headers)
    assert response.status == 400
    assert (await response.json())["code"] == "invalid_json"
    status, body = await admin.post(URL, ["a list"])
    assert status == 422


async def test_delete_refused_while_referenced(client: TestClient[Any, Any],
                                               world: World) -> None:
    org = await world.org()
    admin = await caller(client, world, org, "admin")
    _, created = await admin.post(URL, {"name": "Referenced"})

    await world.project(org, client_id=UUID(created["id"]))
    status, body = await admin.delete(f"{URL}/{created['id']}")
    assert status == 409, body


async def test_project_managers_create_clients(client: TestClient[Any, Any],
                                               world: World) -> None:
    org = await world.org()
    pm = await caller(client, world, org, "project_manager")
    status, created = await pm.post(URL, {"name": "New Client Ltd", "status": "prospect"})
    assert status == 201, created
    assert created["org_id"] == str(org) and created["version"] == 1
    assert (await pm.get(f"{URL}/{created['id']}"))[0] == 200
    status, project = await pm.post("/api/v1/projects", {
        "name": "Lobby", "type": "fit_out", "client_id": created["id"]})
    assert status == 201 and project["client_id"] == created["id"]
