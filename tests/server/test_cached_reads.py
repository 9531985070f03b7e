"""Cache-aside over REST: hits, read-your-writes on every worker, authorisation, outages."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from server.app import create_app
from server.config import Settings
from server.keys import CACHE
from tests.conftest import RedisServer, World

Client = TestClient[Any, Any]


async def _setup(world: World, app: web.Application) -> tuple[Any, dict[str, str], Any]:
    org = await world.org()
    pm = await world.user(org, "project_manager")
    project = await world.project(org, members=[pm])
    return project, await world.headers(app, pm), pm


async def test_second_read_is_a_cache_hit_and_a_write_is_seen_at_once(
    client: Client, world: World, app: web.Application,
) -> None:
    project, headers, _ = await _setup(world, app)
    url = f"/api/v1/projects/{project}"
    first = await (await client.get(url, headers=headers)).json()
    hits = app[CACHE].stats()["hits"]
    second = await client.get(url, headers=headers)
    assert await second.json() == first
    assert second.headers["ETag"] == f'"{first["version"]}"'
    assert app[CACHE].stats()["hits"] > hits
    patched = await client.patch(url, headers=headers, json={"name": "Renamed lobby"})
    assert patched.status == 200
    third = await (await client.get(url, headers=headers)).json()
    assert third["name"] == "Renamed lobby" and third["version"] == first["version"] + 1


async def test_read_your_writes_on_another_worker(
    client: Client, world: World, app: web.Application, aiohttp_client: Any,
    settings: Settings,
) -> None:
    other = await aiohttp_client(create_app(settings))  # a second worker on the same Redis
    project, headers, _ = await _setup(world, app)
    created = await client.post("/api/v1/tasks", headers=headers,
                                json={"project_id": str(project), "name": "Fix ceiling grid"})
    task = await created.json()
    url = f"/api/v1/tasks/{task['id']}"
    assert (await (await other.get(url, headers=headers)).json())["status"] == "pending"
    await client.patch(url, headers=headers, json={"status": "in_progress"})
    assert (await (await other.get(url, headers=headers)).json())["status"] == "in_progress"
    summary = await (await other.get(f"/api/v1/projects/{project}/summary",
                                     headers=headers)).json()
    await client.post("/api/v1/tasks", headers=headers,
                      json={"project_id": str(project), "name": "Second task"})
    again = await (await other.get(f"/api/v1/projects/{project}/summary",
                                   headers=headers)).json()
    assert again["tasks_total"] == summary["tasks_total"] + 1


async def test_removed_member_stops_getting_the_cached_project(
    client: Client, world: World, app: web.Application,
) -> None:
    org = await world.org()
    admin = await world.user(org, "admin")
    designer = await world.user(org, "designer")
    project = await world.project(org, members=[designer])
    headers = await world.headers(app, designer)
    url = f"/api/v1/projects/{project}"
    assert (await client.get(url, headers=headers)).status == 200
    assert (await client.get(url, headers=headers)).status == 200  # now cached
    removed = await client.delete(f"{url}/members/{designer['id']}",
                                  headers=await world.headers(app, admin))
    assert removed.status == 204
    assert (await client.get(url, headers=headers)).status == 404
    assert (await client.get(f"{url}/summary", headers=headers)).status == 404


async def test_a_cached_record_is_never_served_to_another_org(
    client: Client, world: World, app: web.Application,
) -> None:
    project, headers, _ = await _setup(world, app)
    await client.get(f"/api/v1/projects/{project}", headers=headers)
    stranger = await world.user(await world.org(), "admin")
    response = await client.get(f"/api/v1/projects/{project}",
                                headers=await world.headers(app, stranger))
    assert response.status == 404


async def test_redis_stopping_mid_run_degrades_without_a_5xx(
    aiohttp_client: Any, settings: Settings, world: World, pool: Any,
) -> None:
    server = RedisServer()
    try:
        app = create_app(settings.model_copy(update={"redis_url": server.url}))
        http = await aiohttp_client(app)
        project, headers, _ = await _setup(world, app)
        url = f"/api/v1/projects/{project}"
        assert (await http.get(url, headers=headers)).status == 200
        server.stop()
        for _ in range(3):
            response = await http.get(url, headers=headers)
            assert response.status == 200
        patched = await http.patch(url, headers=headers, json={"name": "During the outage"})
        assert patched.status == 200
        ready = await (await http.get("/health/ready")).json()
        assert ready["cache"]["status"] == "degraded"
        server.start()
        fresh = await (await http.get(url, headers=headers)).json()
        assert fresh["name"] == "During the outage"
    finally:
        server.stop()


async def test_a_write_retires_cached_search_results(
    client: Client, world: World, app: web.Application,
) -> None:
    project, headers, _ = await _setup(world, app)
    url = "/api/v1/search?q=Walnut&types=task"
    assert (await (await client.get(url, headers=headers)).json())["data"] == []
    await client.post("/api/v1/tasks", headers=headers,
                      json={"project_id": str(project), "name": "Walnut panelling"})
    hits = (await (await client.get(url, headers=headers)).json())["data"]
    assert [h["title"] for h in hits] == ["Walnut panelling"]
