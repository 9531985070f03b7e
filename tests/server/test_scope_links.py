"""Scope links over HTTP: `scope_item_ids` on tasks, shop drawings and material specs, the
reverse ids on scope items, validation, caches, statement counts and live events."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from db.pool import system_transaction
from server.keys import POOL
from tests.conftest import World
from tests.realtime.conftest import Sock
from tests.server.api import counting_statements
from tests.server.project_team import Team, make_team, send

# resource path, the scope item's reverse field, a valid create body (without project_id)
KINDS = [
    ("/api/v1/tasks", "task_ids", {"name": "Fit the desk"}),
    ("/api/v1/shop-drawings", "shop_drawing_ids",
     {"drawing_number": "AK-MM-001", "title": "Reception desk"}),
    ("/api/v1/material-specs", "material_spec_ids", {"description": "Walnut veneer"}),
]


async def _items(client: TestClient[Any, Any], team: Team, project: uuid.UUID,
                 names: tuple[str, ...] = ("Desk", "Shelf", "Door")) -> list[str]:
    pm = team.headers["project_manager"]
    status, group = await send(client, "POST", "/api/v1/scope-groups", pm,
                               {"project_id": str(project), "name": f"g-{uuid.uuid4().hex[:6]}"})
    assert status == 201, group
    ids = []
    for name in names:
        status, item = await send(client, "POST", "/api/v1/scope-items", pm, {
            "project_id": str(project), "scope_group_id": group["id"], "name": name})
        assert status == 201, item
        ids.append(item["id"])
    return ids


async def _other_project(world: World, team: Team) -> uuid.UUID:
    return await world.project(team.org, members=[team.users["project_manager"]],
                               name="Other project")


@pytest.mark.parametrize(("path", "reverse", "body"), KINDS)
async def test_links_are_read_written_and_mirrored(
        client: TestClient[Any, Any], world: World, path: str, reverse: str,
        body: dict[str, Any]) -> None:
    team = await make_team(world, client)
    pm = team.headers["project_manager"]
    items = await _items(client, team, team.project)
    status, made = await send(client, "POST", path, pm, {
        "project_id": str(team.project), **body, "scope_item_ids": [items[1], items[0],
                                                                    items[1]]})
    assert status == 201, made
    assert made["scope_item_ids"] == sorted(items[:2]) and made["version"] == 1
    record = f"{path}/{made['id']}"
    status, seen = await send(client, "GET", record, pm)
    assert seen["scope_item_ids"] == sorted(items[:2])
    status, page = await send(client, "GET", f"{path}?project_id={team.project}", pm)
    assert [r["scope_item_ids"] for r in page["data"]] == [sorted(items[:2])]
    for item in items[:2]:
        status, scope = await send(client, "GET", f"/api/v1/scope-items/{item}", pm)
        assert scope[reverse] == [made["id"]], scope
    # PATCH replaces the set; one request, one version
    status, changed = await send(client, "PATCH", record, pm,
                                 {"scope_item_ids": [items[2]]}, If_Match='"1"')
    assert status == 200, changed
    assert changed["scope_item_ids"] == [items[2]] and changed["version"] == 2
    status, seen = await send(client, "GET", record, pm)  # cached reads see it too
    assert seen["scope_item_ids"] == [items[2]] and seen["version"] == 2
    status, first = await send(client, "GET", f"/api/v1/scope-items/{items[0]}", pm)
    status, third = await send(client, "GET", f"/api/v1/scope-items/{items[2]}", pm)
    assert first[reverse] == [] and third[reverse] == [made["id"]]
    status, cleared = await send(client, "PATCH", record, pm, {"scope_item_ids": []})
    assert cleared["scope_item_ids"] == []
    status, third = await send(client, "GET", f"/api/v1/scope-items/{items[2]}", pm)
    assert third[reverse] == []


@pytest.mark.parametrize(("path", "reverse", "body"), KINDS)
async def test_only_scope_items_of_the_same_project(
        client: TestClient[Any, Any], world: World, path: str, reverse: str,
        body: dict[str, Any]) -> None:
    team = await make_team(world, client)
    pm = team.headers["project_manager"]
    mine = await _items(client, team, team.project, ("Desk",))
    foreign = await _items(client, team, await _other_project(world, team), ("Elsewhere",))
    create = {"project_id": str(team.project), **body}
    for bad in ([foreign[0]], [str(uuid.uuid4())], [mine[0], foreign[0]]):
        status, problem = await send(client, "POST", path, pm, {**create, "scope_item_ids": bad})
        assert status == 422 and problem["errors"][0]["field"] == "scope_item_ids", problem
    status, problem = await send(client, "POST", path, pm, {**create, "scope_item_ids": ["x"]})
    assert status == 422 and problem["errors"][0]["field"].startswith("scope_item_ids")
    status, made = await send(client, "POST", path, pm, {**create, "scope_item_ids": mine})
    assert status == 201
    record = f"{path}/{made['id']}"
    for bad_value in ([foreign[0]], None, "nope"):
        status, problem = await send(client, "PATCH", record, pm, {"scope_item_ids": bad_value})
        assert status == 422, problem
        assert problem["errors"][0]["field"].startswith("scope_item_ids"), problem
    status, seen = await send(client, "GET", record, pm)
    assert seen["scope_item_ids"] == mine and seen["version"] == 1  # nothing changed
    status, scope = await send(client, "GET", f"/api/v1/scope-items/{foreign[0]}", pm)
    assert scope[reverse] == []
    # the reverse side is read-only
    status, problem = await send(client, "PATCH", f"/api/v1/scope-items/{mine[0]}", pm,
                                 {reverse: []})
    assert status == 422


async def test_deleting_a_scope_item_unlinks_it_everywhere(
        client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    pm = team.headers["project_manager"]
    items = await _items(client, team, team.project, ("Desk", "Shelf"))
    _status, task = await send(client, "POST", "/api/v1/tasks", pm, {
        "project_id": str(team.project), "name": "Fit", "scope_item_ids": items})
    path = f"/api/v1/tasks/{task['id']}"
    assert (await send(client, "GET", path, pm))[1]["scope_item_ids"] == sorted(items)  # cached
    assert (await send(client, "DELETE", f"/api/v1/scope-items/{items[0]}", pm))[0] == 204
    _, seen = await send(client, "GET", path, pm)
    assert seen["scope_item_ids"] == [items[1]]


async def test_lists_read_links_without_a_query_per_row(
        client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    pm = team.headers["project_manager"]
    items = await _items(client, team, team.project, ("Desk", "Shelf"))
    for path, _, body in KINDS:
        for n in range(12):
            extra = {"drawing_number": f"D-{n}"} if "drawing_number" in body else {}
            status, _made = await send(client, "POST", path, pm, {
                "project_id": str(team.project), **body, **extra, "scope_item_ids": items})
            assert status == 201
    for path, _, _ in KINDS:  # warm the session and visibility caches
        await send(client, "GET", f"{path}?project_id={team.project}&limit=1", pm)
    async with counting_statements(client.app[POOL]) as counter:
        for path, _, _ in KINDS:
            counts = []
            for limit in (2, 12):
                counter.reset()
                status, page = await send(client, "GET",
                                          f"{path}?project_id={team.project}&limit={limit}", pm)
                assert status == 200 and len(page["data"]) == limit
                assert all(r["scope_item_ids"] == sorted(items) for r in page["data"])
                counts.append(len(counter.queries))
            assert counts[0] == counts[1], (path, counter.queries)


async def test_live_clients_learn_of_link_changes(
        client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    pm = team.headers["project_manager"]
    items = await _items(client, team, team.project, ("Desk",))
    status, task = await send(client, "POST", "/api/v1/tasks", pm,
                              {"project_id": str(team.project), "name": "Fit"})
    sock = Sock()
    try:
        token = pm["Authorization"].split()[1]
        await sock.connect(f"http://127.0.0.1:{client.server.port}", token)
        ack = await sock.call("subscribe", {"project_id": str(team.project)})
        assert ack["ok"], ack
        status, _ = await send(client, "PATCH", f"/api/v1/tasks/{task['id']}", pm,
                               {"scope_item_ids": items})
        assert status == 200

        def updated(name: str, record: str) -> list[dict[str, Any]]:
            return [e for e in sock.named(name) if e["record_id"] == record]

        await sock.wait_for(lambda: bool(updated("task.updated", task["id"])
                                          and updated("scope_item.updated", items[0])
                                          and sock.named("item_link.created")))
        change = updated("task.updated", task["id"])[0]
        assert change["changed_fields"] == ["scope_item_ids"]
        assert change["data"]["scope_item_ids"] == items
        reverse = updated("scope_item.updated", items[0])[0]
        assert reverse["changed_fields"] == ["task_ids"]
        assert reverse["data"]["task_ids"] == [task["id"]]
        status, _ = await send(client, "PATCH", f"/api/v1/tasks/{task['id']}", pm,
                               {"scope_item_ids": []})
        await sock.wait_for(lambda: len(updated("task.updated", task["id"])) == 2
                            and bool(sock.named("item_link.deleted")))
        assert updated("task.updated", task["id"])[1]["data"]["scope_item_ids"] == []
    finally:
        await sock.close()


async def test_concurrent_links_to_one_scope_item_all_land(
        client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    pm = team.headers["project_manager"]
    items = await _items(client, team, team.project, ("Desk",))
    tasks = []
    for n in range(6):
        _status, task = await send(client, "POST", "/api/v1/tasks", pm,
                                  {"project_id": str(team.project), "name": f"T{n}"})
        tasks.append(task["id"])
    results = await asyncio.gather(*(
        send(client, "PATCH", f"/api/v1/tasks/{t}", pm, {"scope_item_ids": items})
        for t in tasks))
    assert all(status == 200 for status, _ in results)
    _, scope = await send(client, "GET", f"/api/v1/scope-items/{items[0]}", pm)
    assert scope["task_ids"] == sorted(tasks)
    async with system_transaction(world.pool) as conn:
        assert await conn.fetchval("SELECT count(*) FROM item_links WHERE scope_item_id = $1",
                                   uuid.UUID(items[0])) == 6
