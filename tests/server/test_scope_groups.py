"""Scope groups over HTTP: CRUD, listing, uniqueness, non-empty delete, visibility."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import World
from tests.server.project_team import make_team, send

URL = "/api/v1/scope-groups"


async def test_crud_and_listing(client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    pm = team.headers["project_manager"]
    created = []
    for i, name in enumerate(("construction", "millwork", "electric", "mep")):
        status, group = await send(client, "POST", URL, pm, {
            "project_id": str(team.project), "name": name, "order_index": 3 - i})
        assert status == 201, group
        assert group["version"] == 1 and group["created_at"] and group["updated_at"]
        created.append(group)
    status, page = await send(client, "GET", f"{URL}?project_id={team.project}&limit=3", pm)
    assert status == 200
    assert [g["name"] for g in page["data"]] == ["mep", "electric", "millwork"]
    status, rest = await send(client, "GET", f"{URL}?project_id={team.project}&limit=3&"
                              f"cursor={page['next_cursor']}", pm)
    assert status == 200, rest
    assert [g["name"] for g in rest["data"]] == ["construction"] and rest["next_cursor"] is None
    status, by_name = await send(client, "GET", f"{URL}?project_id={team.project}&sort=-name", pm)
    assert [g["name"] for g in by_name["data"]] == ["millwork", "mep", "electric", "construction"]

    group = created[0]
    response = await client.get(f"{URL}/{group['id']}", headers=pm)
    assert response.status == 200 and response.headers["ETag"] == '"1"'
    status, changed = await send(client, "PATCH", f"{URL}/{group['id']}", pm,
                                 {"description": "Walls and floors"}, If_Match='"1"')
    assert status == 200 and changed["version"] == 2
    assert changed["description"] == "Walls and floors"
    status, stale = await send(client, "PATCH", f"{URL}/{group['id']}", pm,
                               {"name": "x"}, If_Match='"1"')
    assert status == 412 and stale["current_version"] == 2
    status, _ = await send(client, "DELETE", f"{URL}/{group['id']}", pm, If_Match='"2"')
    assert status == 204
    status, _ = await send(client, "GET", f"{URL}/{group['id']}", pm)
    assert status == 404


async def test_name_unique_per_project_and_delete_with_items(
    client: TestClient[Any, Any], world: World,
) -> None:
    team = await make_team(world, client)
    pm = team.headers["project_manager"]
    body = {"project_id": str(team.project), "name": "millwork"}
    status, group = await send(client, "POST", URL, pm, body)
    assert status == 201
    status, dup = await send(client, "POST", URL, pm, body)
    assert status == 409 and dup["code"] == "duplicate"
    other = await world.project(team.org, members=[team.users["project_manager"]])
    status, _ = await send(client, "POST", URL, pm, {**body, "project_id": str(other)})
    assert status == 201  # the same name in another project is fine
    status, _ = await send(client, "POST", "/api/v1/scope-items", pm, {
        "project_id": str(team.project), "scope_group_id": group["id"], "name": "Desk"})
    assert status == 201
    status, problem = await send(client, "DELETE", f"{URL}/{group['id']}", pm)
    assert status == 409 and problem["code"] == "scope_group_not_empty"


async def test_validation_lists_every_field(client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    status, problem = await send(client, "POST", URL, team.headers["admin"], {
        "project_id": "not-a-uuid", "name": "x" * 301, "order_index": -1, "colour": "red"})
    assert status == 422
    assert {e["field"] for e in problem["errors"]} == {
        "project_id", "name", "order_index", "colour"}
    status, problem = await send(client, "PATCH", f"{URL}/not-a-uuid", team.headers["admin"],
                                 {"name": "x"})
    assert status == 404
    status, problem = await send(client, "GET", f"{URL}?project_id=nope", team.headers["admin"])
    assert status == 422 and problem["errors"][0]["field"] == "project_id"


async def test_roles_and_visibility(client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    body = {"project_id": str(team.project), "name": "electric"}
    for role in ("designer", "craftsman", "client"):
        status, _ = await send(client, "POST", URL, team.headers[role], {**body, "name": role})
        assert status == 403, role
    status, group = await send(client, "POST", URL, team.headers["coordinator"], body)
    assert status == 201
    for role in ("designer", "craftsman", "client", "admin"):
        status, _ = await send(client, "GET", f"{URL}/{group['id']}", team.headers[role])
        assert status == 200, role
    for who in ("outsider", "stranger"):
        status, _ = await send(client, "GET", f"{URL}/{group['id']}", team.headers[who])
        assert status == 404, who
        status, _ = await send(client, "GET", f"{URL}?project_id={team.project}",
                               team.headers[who])
        assert status == 404, who
    status, _ = await send(client, "POST", URL, team.headers["stranger"], {**body, "name": "s"})
    assert status == 404
    status, page = await send(client, "GET", URL, team.headers["stranger"])
    assert status == 200 and page["data"] == []


async def test_idempotent_create(client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    pm = team.headers["project_manager"]
    body = {"project_id": str(team.project), "name": "mep"}
    first = await send(client, "POST", URL, pm, body, Idempotency_Key="k-1")
    again = await send(client, "POST", URL, pm, body, Idempotency_Key="k-1")
    assert first[0] == 201, first
    assert first == again
    status, _ = await send(client, "POST", URL, pm, {**body, "name": "other"},
                           Idempotency_Key="k-1")
    assert status == 422
    status, page = await send(client, "GET", f"{URL}?project_id={team.project}", pm)
    assert len(page["data"]) == 1


async def test_odd_input_is_never_a_500(client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    admin = team.headers["admin"]
    project = str(team.project)
    bodies = [
        {"project_id": project, "name": "nul\u0000byte"},
        {"project_id": project, "name": "n", "order_index": 10**30},
        {"project_id": project, "name": "n", "order_index": "3"},
        {"project_id": project, "name": ["list"]},
        {"project_id": 42, "name": "n"},
    ]
    for body in bodies:
        status, _ = await send(client, "POST", URL, admin, body)
        assert 400 <= status < 500 or status == 201, body
    for query in ("limit=0", "limit=201", "limit=x", "sort=password_hash", "sort=-",
                  "cursor=WyJvcmRlcl9pbmRleCIsZmFsc2UsImFiYyIsIjAwMDAwMDAwLTAwMDAtMDAwMC0wMD"
                  "AwLTAwMDAwMDAwMDAwMCJd", "project_id=" + "f" * 5000, "unknown=1"):
        response = await client.get(f"{URL}?{query}", headers=admin)
        assert 400 <= response.status < 500, query
    for path in (f"{URL}/{'9' * 400}", f"{URL}/%00", f"{URL}/00000000-0000-0000-0000-000000000000"):
        response = await client.get(path, headers=admin)
        assert response.status == 404, path
    response = await client.post(URL, data=b"{not json", headers={
        **admin, "Content-Type": "application/json"})
    assert response.status == 400
    status, group = await send(client, "POST", URL, admin, {"project_id": project, "name": "g"})
    response = await client.patch(f"{URL}/{group['id']}", json={"name": "x"},
                                  headers={**admin, "If-Match": "abc"})
    assert response.status == 400
