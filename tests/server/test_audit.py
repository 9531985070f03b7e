"""/api/v1/audit: who sees which history, filters, pages, and the record history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import World
from tests.server.api import all_pages, caller, fields

URL = "/api/v1/audit"


async def test_record_history_names_actor_and_request(client: TestClient[Any, Any],
                                                      world: World) -> None:
    org = await world.org()
    pm = await caller(client, world, org, "project_manager")
    _, project = await pm.post("/api/v1/projects", {"name": "Audited", "type": "office"},
                               headers={"X-Request-ID": "req-create"})
    await pm.patch(f"/api/v1/projects/{project['id']}", {"status": "active"},
                   headers={"X-Request-ID": "req-patch"})
    status, body = await pm.get(f"{URL}/projects/{project['id']}")
    assert status == 200, body
    history = body["data"]
    assert [h["action"] for h in history] == ["insert", "update"]
    assert history[1]["changed_fields"] == ["status"]
    assert history[1]["old_values"]["status"] == "draft"
    assert [h["request_id"] for h in history] == ["req-create", "req-patch"]
    assert {h["user_id"] for h in history} == {pm.id}
    assert "search_vector" not in history[0]["new_values"]
    newest_first = await all_pages(pm, f"{URL}/projects/{project['id']}?sort=-id&limit=1")
    assert [h["id"] for h in newest_first] == [h["id"] for h in reversed(history)]


async def test_admins_see_the_org_others_their_projects(client: TestClient[Any, Any],
                                                        world: World) -> None:
    org = await world.org()
    admin = await caller(client, world, org, "admin")
    designer = await caller(client, world, org, "designer")
    _, mine = await admin.post("/api/v1/projects", {"name": "Mine", "type": "office"})
    _, theirs = await admin.post("/api/v1/projects", {"name": "Theirs", "type": "office"})
    await admin.post(f"/api/v1/projects/{mine['id']}/members", {"user_id": designer.id})
    _, client_row = await admin.post("/api/v1/clients", {"name": "Org-wide"})
    everything = await all_pages(admin, f"{URL}?limit=2")
    assert {r["table_name"] for r in everything} >= {"projects", "project_members", "clients"}
    visible = await all_pages(designer, URL)
    assert visible and {r["project_id"] for r in visible} == {mine["id"]}
    assert (await designer.get(f"{URL}/projects/{theirs['id']}"))[0] == 404
    assert (await designer.get(f"{URL}/clients/{client_row['id']}"))[0] == 404
    assert (await admin.get(f"{URL}/clients/{client_row['id']}"))[0] == 200
    stranger = await caller(client, world, await world.org(), "admin")
    foreign = await all_pages(stranger, URL)
    assert {r["org_id"] for r in foreign} == {str(stranger.user["org_id"])}
    assert (await stranger.get(f"{URL}/projects/{mine['id']}"))[0] == 404
    client_user = await caller(client, world, org, "client")
    assert (await client_user.get(URL))[0] == 403
    assert (await client_user.get(f"{URL}/projects/{mine['id']}"))[0] == 403


async def test_filters_and_validation(client: TestClient[Any, Any], world: World) -> None:
    org = await world.org()
    admin = await caller(client, world, org, "admin")
    pm = await caller(client, world, org, "project_manager")
    before = dt.datetime.now(dt.UTC).isoformat()
    _, project = await pm.post("/api/v1/projects", {"name": "F", "type": "office"})
    await admin.patch(f"/api/v1/projects/{project['id']}", {"name": "G"})

    async def rows(query: str) -> list[dict[str, Any]]:
        status, body = await admin.get(f"{URL}?{query}")
        assert status == 200, body
        return list(body["data"])

    assert {r["action"] for r in await rows("table=projects")} == {"insert", "update"}
    assert [r["user_id"] for r in await rows("action=update")] == [admin.id]
    assert {r["table_name"] for r in await rows(f"user_id={pm.id}")} == {"projects",
                                                                        "project_members"}
    assert len(await rows(f"record_id={project['id']}")) == 2
    assert len(await rows(f"project_id={project['id']}&action=insert")) == 2
    since = before.replace("+", "%2B")
    assert await rows(f"to={since}&project_id={project['id']}") == []
    assert len(await rows(f"from={since}&project_id={project['id']}")) == 3
    status, body = await admin.get(f"{URL}?table=secrets&from=yesterday&user_id=1&limit=0")
    assert status == 422 and fields(body) == {"table", "from", "user_id", "limit"}
    assert (await admin.get(f"{URL}?cursor=abc"))[0] == 422
    assert (await admin.get(f"{URL}/secrets/{project['id']}"))[0] == 404
    assert (await admin.get(f"{URL}/projects/not-a-uuid"))[0] == 404


async def test_notification_audit_rows_are_private_to_their_recipient(
    client: Any, world: Any, app: Any, pool: Any,
) -> None:
    org = await world.org()
    pm = await world.user(org, "project_manager")
    designer = await world.user(org, "designer")
    craftsman = await world.user(org, "craftsman")
    project = await world.project(org, members=[pm, designer, craftsman])
    created = await client.post("/api/v1/tasks", headers=await world.headers(app, pm), json={
        "project_id": str(project), "name": "Install lights", "assigned_to": str(designer["id"])})
    assert created.status == 201
    for user, expected in ((designer, 1), (craftsman, 0)):
        listing = await client.get("/api/v1/audit?table=notifications",
                                   headers=await world.headers(app, user))
        assert listing.status == 200
        assert len((await listing.json())["data"]) == expected


async def test_addresses_and_agents_of_others_only_for_admins(client: TestClient[Any, Any],
                                                              world: World) -> None:
    org = await world.org()
    admin = await caller(client, world, org, "admin")
    designer = await caller(client, world, org, "designer")
    pm = await caller(client, world, org, "project_manager")
    _, project = await admin.post("/api/v1/projects", {"name": "Seen", "type": "office"},
                                  headers={"User-Agent": "admin-agent"})
    for who in (designer, pm):
        await admin.post(f"/api/v1/projects/{project['id']}/members", {"user_id": who.id},
                         headers={"User-Agent": "admin-agent"})
    _, task = await designer.post("/api/v1/tasks", {"project_id": project["id"], "name": "t"},
                                  headers={"User-Agent": "designer-agent"})
    await pm.patch(f"/api/v1/tasks/{task['id']}", {"name": "t2"},
                   headers={"User-Agent": "pm-agent"})
    for path in (f"{URL}?project_id={project['id']}", f"{URL}/tasks/{task['id']}"):
        everything = await all_pages(admin, path)
        assert {r["user_agent"] for r in everything} >= {"designer-agent", "pm-agent"}
        assert all(r["ip"] == "127.0.0.1" for r in everything)
        for viewer, agent in ((designer, "designer-agent"), (pm, "pm-agent")):
            rows = await all_pages(viewer, path)
            assert {r["user_id"] for r in rows} > {viewer.id}, path  # others' rows are there
            for row in rows:
                if row["user_id"] == viewer.id:
                    assert (row["ip"], row["user_agent"]) == ("127.0.0.1", agent)
                else:
                    assert (row["ip"], row["user_agent"]) == (None, None), row


async def test_tables_by_resource_or_table_name(client: TestClient[Any, Any],
                                                world: World) -> None:
    org = await world.org()
    admin = await caller(client, world, org, "admin")
    _, project = await admin.post("/api/v1/projects", {"name": "Named", "type": "office"})
    designer = await world.user(org, "designer")
    await admin.post(f"/api/v1/projects/{project['id']}/members",
                     {"user_id": str(designer["id"])})
    for plural, singular in (("projects", "project"), ("project_members", "project_member")):
        by_table = await all_pages(admin, f"{URL}?table={plural}")
        by_resource = await all_pages(admin, f"{URL}?table={singular}")
        assert by_table and by_table == by_resource
        assert {r["table_name"] for r in by_resource} == {plural}
    history = f"{URL}/project/{project['id']}"
    status, body = await admin.get(history)
    assert status == 200 and body == (await admin.get(f"{URL}/projects/{project['id']}"))[1]
    status, body = await admin.get(f"{URL}?table=secrets")
    assert status == 422 and fields(body) == {"table"}
    message = body["errors"][0]["message"]
    assert "project_member" in message and "project_members" in message and "task" in message
    assert "Value error" not in message
    status, body = await admin.get(f"{URL}/secret/{project['id']}")
    assert status == 404 and "shop_drawing" in body["errors"][0]["message"]
