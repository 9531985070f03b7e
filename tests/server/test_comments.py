"""Comments over HTTP: CRUD on every entity type, authorship, visibility, and mentions that
notify only the colleagues who may open the record."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from db.pool import system_transaction
from tests.conftest import World
from tests.server.project_team import Team, make_team, send

URL = "/api/v1/comments"


async def _entities(world: World, team: Team) -> dict[str, uuid.UUID]:
    """One record of every commentable type in the team's project."""
    async with system_transaction(world.pool) as conn:
        org, project = team.org, team.project
        group = await conn.fetchval("INSERT INTO scope_groups (org_id, project_id, name) "
                                    "VALUES ($1, $2, 'mep') RETURNING id", org, project)
        return {
            "project": project,
            "task": await conn.fetchval("INSERT INTO tasks (org_id, project_id, name) VALUES "
                                        "($1, $2, 'Paint') RETURNING id", org, project),
            "scope_item": await conn.fetchval(
                "INSERT INTO scope_items (org_id, project_id, scope_group_id, name) VALUES "
                "($1, $2, $3, 'Duct') RETURNING id", org, project, group),
            "shop_drawing": await conn.fetchval(
                "INSERT INTO shop_drawings (org_id, project_id, drawing_number, title) VALUES "
                "($1, $2, 'D-1', 'Duct plan') RETURNING id", org, project),
            "material_spec": await conn.fetchval(
                "INSERT INTO material_specs (org_id, project_id, description) VALUES "
                "($1, $2, 'Duct tape') RETURNING id", org, project),
        }


async def _notifications(client: TestClient[Any, Any], team: Team, who: str) -> list[Any]:
    status, page = await send(client, "GET", "/api/v1/notifications", team.headers[who])
    assert status == 200
    return list(page["data"])


async def test_crud_on_every_entity_type(client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    entities = await _entities(world, team)
    crafts = team.headers["craftsman"]
    for kind, entity_id in entities.items():
        status, comment = await send(client, "POST", URL, crafts, {
            "entity_type": kind, "entity_id": str(entity_id), "body": f"On the {kind}",
            "visibility": "shared"})
        assert status == 201, comment
        assert comment["project_id"] == str(team.project) and comment["mentions"] == []
        status, reply = await send(client, "POST", URL, team.headers["designer"], {
            "entity_type": kind, "entity_id": str(entity_id), "body": "Reply",
            "parent_id": comment["id"], "visibility": "shared"})
        assert status == 201 and reply["parent_id"] == comment["id"]
        status, page = await send(
            client, "GET", f"{URL}?entity_type={kind}&entity_id={entity_id}&limit=1",
            team.headers["client"])
        assert status == 200 and [c["body"] for c in page["data"]] == [f"On the {kind}"]
        assert page["next_cursor"]
    status, edited = await send(client, "PATCH", f"{URL}/{comment['id']}", crafts,
                                {"body": "Edited"}, If_Match='"1"')
    assert status == 200 and edited["body"] == "Edited" and edited["version"] == 2
    status, _ = await send(client, "PATCH", f"{URL}/{comment['id']}", crafts, {"body": "x"},
                           If_Match='"1"')
    assert status == 412
    for who in ("designer", "admin"):
        status, problem = await send(client, "PATCH", f"{URL}/{comment['id']}",
                                     team.headers[who], {"body": "mine now"})
        assert status == 403 and problem["code"] == "not_author"
        status, _ = await send(client, "DELETE", f"{URL}/{comment['id']}", team.headers[who])
        assert status == 403
    status, _ = await send(client, "DELETE", f"{URL}/{comment['id']}", crafts)
    assert status == 204
    status, _ = await send(client, "GET", f"{URL}/{comment['id']}", crafts)
    assert status == 404


async def test_bad_input_and_visibility(client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    entities = await _entities(world, team)
    task = str(entities["task"])
    status, problem = await send(client, "POST", URL, team.headers["designer"], {
        "entity_type": "invoice", "entity_id": "nope", "body": ""})
    assert status == 422
    assert {e["field"] for e in problem["errors"]} == {"entity_type", "entity_id", "body"}
    status, _ = await send(client, "POST", URL, team.headers["designer"], {
        "entity_type": "task", "entity_id": task, "body": "b" * 100_001})
    assert status == 422
    status, _ = await send(client, "POST", URL, team.headers["designer"], {
        "entity_type": "shop_drawing", "entity_id": task, "body": "wrong type"})
    assert status == 404
    status, _ = await send(client, "POST", URL, team.headers["client"], {
        "entity_type": "task", "entity_id": task, "body": "clients only read"})
    assert status == 403
    for who in ("outsider", "stranger"):
        status, _ = await send(client, "POST", URL, team.headers[who], {
            "entity_type": "task", "entity_id": task, "body": "let me in"})
        assert status == 404, who
        status, _ = await send(client, "GET", f"{URL}?entity_type=task&entity_id={task}",
                               team.headers[who])
        assert status == 404, who
    status, _ = await send(client, "GET", f"{URL}?entity_type=task", team.headers["designer"])
    assert status == 422
    status, first = await send(client, "POST", URL, team.headers["designer"], {
        "entity_type": "task", "entity_id": task, "body": "Parent"})
    status, problem = await send(client, "POST", URL, team.headers["designer"], {
        "entity_type": "project", "entity_id": str(team.project), "body": "Reply elsewhere",
        "parent_id": first["id"]})
    assert status == 422 and problem["errors"][0]["field"] == "parent_id"


async def test_mentions_notify_only_who_can_see(client: TestClient[Any, Any],
                                                world: World) -> None:
    team = await make_team(world, client)
    drawing = str((await _entities(world, team))["shop_drawing"])
    users = team.users
    body = ("@designer.member and @CLIENT.member, see @" + users["admin"]["email"] +
            ". Not for @otto.side, @stra.nger, @nobody.here or me @projectmanager.member; "
            f"mail {users['craftsman']['email']} is not a mention")
    status, comment = await send(client, "POST", URL, team.headers["project_manager"], {
        "entity_type": "shop_drawing", "entity_id": drawing, "body": body,
        "visibility": "shared"})  # client users are mentioned in shared comments only
    assert status == 201, comment
    notified = {str(users[r]["id"]) for r in ("designer", "client", "admin")}
    assert set(comment["mentions"]) == notified
    for role in ("designer", "client", "admin"):
        found = await _notifications(client, team, role)
        assert len(found) == 1, role
        note = found[0]
        assert note["type"] == "mention" and note["read_at"] is None
        assert note["title"] == "ProjectManager Member mentioned you"
        assert note["project_id"] == str(team.project)
        assert note["data"] == {"comment_id": comment["id"], "entity_type": "shop_drawing",
                                "entity_id": drawing, "by": str(users["project_manager"]["id"])}
    for who in ("project_manager", "craftsman", "outsider", "stranger", "coordinator"):
        assert await _notifications(client, team, who) == [], who

    status, edited = await send(client, "PATCH", f"{URL}/{comment['id']}",
                                team.headers["project_manager"],
                                {"body": "@designer.member and now @craftsman.member"})
    assert status == 200
    assert set(edited["mentions"]) == {str(users[r]["id"]) for r in ("designer", "craftsman")}
    assert len(await _notifications(client, team, "designer")) == 1  # not notified twice
    assert len(await _notifications(client, team, "craftsman")) == 1


async def test_a_member_who_leaves_is_no_longer_notified(client: TestClient[Any, Any],
                                                         world: World) -> None:
    team = await make_team(world, client)
    async with system_transaction(world.pool) as conn:
        await conn.execute("DELETE FROM project_members WHERE user_id = $1",
                           team.users["designer"]["id"])
    status, comment = await send(client, "POST", URL, team.headers["coordinator"], {
        "entity_type": "project", "entity_id": str(team.project),
        "body": "@designer.member @craftsman.member"})
    assert status == 201
    assert comment["mentions"] == [str(team.users["craftsman"]["id"])]
    assert await _notifications(client, team, "designer") == []


async def test_mentions_match_names_without_accents(client: TestClient[Any, Any],
                                                    world: World) -> None:
    team = await make_team(world, client)
    isil = await world.user(team.org, "designer", first_name="Işıl Nur", last_name="Öztürk")
    async with system_transaction(world.pool) as conn:
        await conn.execute("INSERT INTO project_members (org_id, project_id, user_id, role) "
                           "VALUES ($1, $2, $3, 'designer')", team.org, team.project, isil["id"])
    for body in ("@isil.ozturk", "@Işıl.Öztürk", "@işılnur.öztürk"):
        status, comment = await send(client, "POST", URL, team.headers["coordinator"], {
            "entity_type": "project", "entity_id": str(team.project), "body": body})
        assert status == 201
        assert comment["mentions"] == [str(isil["id"])], body


async def test_the_writer_learns_who_was_not_notified(client: TestClient[Any, Any],
                                                      world: World) -> None:
    team = await make_team(world, client)
    users = team.users
    gone = await world.user(team.org, "designer", first_name="Gone", last_name="Away",
                            status="inactive")
    async with system_transaction(world.pool) as conn:
        await conn.execute("INSERT INTO project_members (org_id, project_id, user_id, role) "
                           "VALUES ($1, $2, $3, 'designer')", team.org, team.project, gone["id"])
    body = ("@designer.member @otto.side @stra.nger @nobody.here @gone.away "
            f"@{users['stranger']['email']} @projectmanager.member @Designer.Member")
    status, comment = await send(client, "POST", URL, team.headers["project_manager"], {
        "entity_type": "project", "entity_id": str(team.project), "body": body})
    assert status == 201, comment
    designer = str(users["designer"]["id"])
    assert comment["mentions"] == [designer]  # the existing field is unchanged
    report = comment["mention_report"]
    assert report["notified"] == [designer]
    assert sorted(report["not_notified"], key=lambda e: e["handle"]) == sorted([
        {"handle": "@gone.away", "reason": "inactive", "user_id": str(gone["id"])},
        {"handle": "@nobody.here", "reason": "unknown_user"},
        {"handle": "@otto.side", "reason": "not_a_member",
         "user_id": str(users["outsider"]["id"])},
        {"handle": "@projectmanager.member", "reason": "author",
         "user_id": str(users["project_manager"]["id"])},
        # Another organisation's users are unknown here, whether named or addressed.
        {"handle": "@stra.nger", "reason": "unknown_user"},
        {"handle": f"@{users['stranger']['email']}", "reason": "unknown_user"},
    ], key=lambda e: e["handle"])

    status, edited = await send(client, "PATCH", f"{URL}/{comment['id']}",
                                team.headers["project_manager"],
                                {"body": "@designer.member and now @craftsman.member"})
    assert status == 200
    assert edited["mention_report"] == {
        "notified": [str(users["craftsman"]["id"])],
        "not_notified": [{"user_id": designer, "reason": "already_notified"}]}
    status, plain = await send(client, "POST", URL, team.headers["designer"], {
        "entity_type": "project", "entity_id": str(team.project), "body": "no mentions"})
    assert plain["mention_report"] == {"notified": [], "not_notified": []}
