"""Scope items over HTTP: CRUD, totals, money as strings, group checks, filters, races."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import World
from tests.server.project_team import Team, make_team, send

URL = "/api/v1/scope-items"


async def _group(client: TestClient[Any, Any], team: Team, name: str = "millwork") -> str:
    status, group = await send(client, "POST", "/api/v1/scope-groups",
                               team.headers["project_manager"],
                               {"project_id": str(team.project), "name": name})
    assert status == 201
    return str(group["id"])


async def test_crud_with_server_side_totals(client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    pm = team.headers["coordinator"]
    group = await _group(client, team)
    status, item = await send(client, "POST", URL, pm, {
        "project_id": str(team.project), "scope_group_id": group, "name": "Reception desk",
        "code": "MW-01", "quantity": "2.5", "unit": "pcs", "unit_price": "1200.10",
        "category": "Millwork"})
    assert status == 201, item
    assert item["total_price"] == "3000.25" and item["unit_price"] == "1200.10"
    assert item["quantity"] == "2.500" and item["status"] == "pending"
    status, item = await send(client, "PATCH", f"{URL}/{item['id']}", pm, {"quantity": 3})
    assert status == 200 and item["total_price"] == "3600.30" and item["version"] == 2
    status, item = await send(client, "PATCH", f"{URL}/{item['id']}", pm, {"unit_price": None})
    assert item["total_price"] is None
    status, item = await send(client, "PATCH", f"{URL}/{item['id']}", pm, {"name": "Desk"})
    assert item["total_price"] is None and item["version"] == 4
    status, same = await send(client, "GET", f"{URL}/{item['id']}", team.headers["craftsman"])
    assert status == 200 and same == item
    status, _ = await send(client, "DELETE", f"{URL}/{item['id']}", pm)
    assert status == 204
    status, _ = await send(client, "GET", f"{URL}/{item['id']}", pm)
    assert status == 404


async def test_bad_values_are_listed(client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    group = await _group(client, team)
    status, problem = await send(client, "POST", URL, team.headers["admin"], {
        "project_id": str(team.project), "scope_group_id": group, "name": "",
        "quantity": "-1", "unit_price": "12.345", "unit": "bags", "status": "done",
        "description": "d" * 100_001, "completion": 101})
    assert status == 422
    assert {e["field"] for e in problem["errors"]} == {
        "name", "quantity", "unit_price", "unit", "status", "description", "completion"}
    status, problem = await send(client, "POST", URL, team.headers["admin"], {
        "project_id": str(team.project), "scope_group_id": group, "name": "Huge",
        "quantity": "99999999999", "unit_price": "999999999999.99"})
    assert status == 422 and problem["errors"][0]["field"] == "total_price"
    status, problem = await send(client, "PATCH", f"{URL}/{group}", team.headers["admin"],
                                 {"name": None})
    assert status == 422 and problem["errors"][0]["field"] == "name"


async def test_group_must_belong_to_the_project(client: TestClient[Any, Any],
                                                world: World) -> None:
    team = await make_team(world, client)
    other = await world.project(team.org, members=[team.users["project_manager"]], name="B")
    status, foreign = await send(client, "POST", "/api/v1/scope-groups",
                                 team.headers["project_manager"],
                                 {"project_id": str(other), "name": "electric"})
    assert status == 201
    body = {"project_id": str(team.project), "scope_group_id": foreign["id"], "name": "Cable"}
    status, problem = await send(client, "POST", URL, team.headers["project_manager"], body)
    assert status == 422 and problem["errors"][0]["field"] == "scope_group_id"
    own = await _group(client, team)
    status, item = await send(client, "POST", URL, team.headers["project_manager"],
                              {**body, "scope_group_id": own})
    assert status == 201
    status, problem = await send(client, "PATCH", f"{URL}/{item['id']}",
                                 team.headers["project_manager"],
                                 {"scope_group_id": foreign["id"]})
    assert status == 422


async def test_filters_sorting_and_visibility(client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    pm = team.headers["project_manager"]
    groups = [await _group(client, team, n) for n in ("millwork", "electric")]
    for i in range(5):
        status, _ = await send(client, "POST", URL, pm, {
            "project_id": str(team.project), "scope_group_id": groups[i % 2],
            "name": f"Item {i}", "status": "completed" if i == 4 else "pending"})
        assert status == 201
    base = f"{URL}?project_id={team.project}"
    status, page = await send(client, "GET", f"{base}&scope_group_id={groups[0]}&sort=-name", pm)
    assert [i["name"] for i in page["data"]] == ["Item 4", "Item 2", "Item 0"]
    status, page = await send(client, "GET", f"{base}&status=completed", pm)
    assert [i["name"] for i in page["data"]] == ["Item 4"]
    names: list[str] = []
    cursor = ""
    while True:
        status, page = await send(client, "GET", f"{base}&limit=2{cursor}", pm)
        names += [i["name"] for i in page["data"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert names == [f"Item {i}" for i in range(5)]
    status, _ = await send(client, "GET", f"{base}&status=nonsense", pm)
    assert status == 422
    status, _ = await send(client, "GET", f"{base}&cursor=garbage", pm)
    assert status == 422
    for who in ("outsider", "stranger"):
        status, page = await send(client, "GET", URL, team.headers[who])
        assert status == 200 and page["data"] == [], who
    for role in ("designer", "craftsman", "client"):
        status, _ = await send(client, "POST", URL, team.headers[role], {
            "project_id": str(team.project), "scope_group_id": groups[0], "name": "x"})
        assert status == 403, role


async def test_concurrent_patches_with_one_if_match(client: TestClient[Any, Any],
                                                    world: World) -> None:
    team = await make_team(world, client)
    pm = team.headers["project_manager"]
    _, item = await send(client, "POST", URL, pm, {
        "project_id": str(team.project), "scope_group_id": await _group(client, team),
        "name": "Desk"})
    results = await asyncio.gather(*(
        send(client, "PATCH", f"{URL}/{item['id']}", pm, {"completion": c}, If_Match='"1"')
        for c in (10, 20)))
    assert sorted(s for s, _ in results) == [200, 412]
