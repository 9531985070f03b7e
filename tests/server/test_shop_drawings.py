"""Shop drawings over HTTP: CRUD, the submittal workflow by role, revisions, audit, races."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from db.pool import system_transaction
from tests.conftest import World
from tests.server.project_team import Team, make_team, send

URL = "/api/v1/shop-drawings"


async def _drawing(client: TestClient[Any, Any], team: Team, number: str = "AK-MM-001",
                   **fields: Any) -> dict[str, Any]:
    status, drawing = await send(client, "POST", URL, team.headers["designer"], {
        "project_id": str(team.project), "drawing_number": number,
        "title": "Reception desk", **fields})
    assert status == 201, drawing
    return dict(drawing)


async def _step(client: TestClient[Any, Any], team: Team, who: str, drawing_id: str,
                action: str, comment: str | None = None, **headers: str) -> tuple[int, Any]:
    body: dict[str, Any] = {"action": action}
    if comment is not None:
        body["comment"] = comment
    return await send(client, "POST", f"{URL}/{drawing_id}/transitions", team.headers[who],
                      body, **headers)


async def _force(world: World, drawing_id: str, status: str) -> None:
    async with system_transaction(world.pool) as conn:
        await conn.execute("UPDATE shop_drawings SET status = $1 WHERE id = $2", status,
                           uuid.UUID(drawing_id))


async def test_create_links_and_crud(client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    pm = team.headers["project_manager"]
    status, group = await send(client, "POST", "/api/v1/scope-groups", pm,
                               {"project_id": str(team.project), "name": "millwork"})
    items = []
    for name in ("Desk", "Shelf"):
        status, item = await send(client, "POST", "/api/v1/scope-items", pm, {
            "project_id": str(team.project), "scope_group_id": group["id"], "name": name})
        items.append(item["id"])
    drawing = await _drawing(client, team, scope_item_ids=items, room="Lobby")
    assert drawing["status"] == "draft" and drawing["revision"] == "Rev A"
    assert drawing["scope_item_ids"] == sorted(items) and drawing["version"] == 1
    assert drawing["ball_in_court"] == str(team.users["designer"]["id"])
    assert drawing["ball_in_court_party"] == "submitter"
    assert drawing["allowed_actions"] == ["submit"]
    status, seen = await send(client, "GET", f"{URL}/{drawing['id']}", pm)
    assert seen["allowed_actions"] == ["submit", "void"]
    status, changed = await send(client, "PATCH", f"{URL}/{drawing['id']}", pm, {
        "title": "Reception desk, oak", "scope_item_ids": items[1:]}, If_Match='"1"')
    assert status == 200 and changed["version"] == 2
    assert changed["scope_item_ids"] == items[1:]
    status, page = await send(client, "GET", f"{URL}?project_id={team.project}&room=Lobby", pm)
    assert [d["id"] for d in page["data"]] == [drawing["id"]]
    assert page["data"][0]["allowed_actions"] == ["submit", "void"]
    status, problem = await send(client, "POST", URL, team.headers["designer"], {
        "project_id": str(team.project), "drawing_number": "AK-MM-001", "title": "Again"})
    assert status == 409 and problem["code"] == "duplicate"
    status, _ = await send(client, "DELETE", f"{URL}/{drawing['id']}", pm)
    assert status == 204


async def test_validation(client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    other = await world.project(team.org, members=[team.users["designer"]], name="Other")
    async with system_transaction(world.pool) as conn:
        group = await conn.fetchval("INSERT INTO scope_groups (org_id, project_id, name) "
                                    "VALUES ($1, $2, 'g') RETURNING id", team.org, other)
        foreign = await conn.fetchval(
            "INSERT INTO scope_items (org_id, project_id, scope_group_id, name) "
            "VALUES ($1, $2, $3, 'x') RETURNING id", team.org, other, group)
    status, problem = await send(client, "POST", URL, team.headers["designer"], {
        "project_id": str(team.project), "drawing_number": "n" * 301, "room": "r" * 301,
        "scope_item_ids": ["nope"], "status": "approved"})
    assert status == 422
    assert {e["field"] for e in problem["errors"]} == {
        "drawing_number", "title", "room", "scope_item_ids.0", "status"}
    status, problem = await send(client, "POST", URL, team.headers["designer"], {
        "project_id": str(team.project), "drawing_number": "A-1", "title": "t",
        "scope_item_ids": [str(foreign)]})
    assert status == 422 and problem["errors"][0]["field"] == "scope_item_ids"
    drawing = await _drawing(client, team)
    status, problem = await _step(client, team, "project_manager", drawing["id"], "publish")
    assert status == 422 and problem["errors"][0]["field"] == "action"
    status, _ = await send(client, "POST", f"{URL}/{drawing['id']}/transitions",
                           team.headers["project_manager"], ["submit"])
    assert status == 422
    status, _ = await _step(client, team, "project_manager", "not-a-uuid", "submit")
    assert status == 404


async def test_full_cycle_with_revisions(client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    pm_id, designer_id = (str(team.users[r]["id"]) for r in ("project_manager", "designer"))
    drawing = await _drawing(client, team)
    did = drawing["id"]
    status, d = await _step(client, team, "designer", did, "submit")
    assert status == 200 and d["status"] == "submitted"
    assert d["submitted_by"] == designer_id and d["submitted_at"]
    assert (d["ball_in_court"], d["ball_in_court_party"]) == (pm_id, "reviewer")
    assert d["allowed_actions"] == []  # nothing left for the designer while it is reviewed
    status, d = await _step(client, team, "project_manager", did, "start_review")
    assert d["status"] == "in_review" and d["reviewed_by"] == pm_id
    assert d["allowed_actions"] == ["approve", "approve_as_noted", "request_revision", "reject",
                                    "void"]
    status, d = await _step(client, team, "project_manager", did, "request_revision",
                            "Show the cable grommets")
    assert d["status"] == "revise_and_resubmit" and d["ball_in_court"] == designer_id
    status, d = await _step(client, team, "coordinator", did, "new_revision")
    assert status == 200 and (d["status"], d["revision"]) == ("draft", "Rev B")
    assert d["submitted_at"] is None and d["reviewed_by"] is None
    for who, action, comment in (("designer", "submit", None),
                                 ("project_manager", "start_review", None),
                                 ("project_manager", "reject", "Wrong oak species"),
                                 ("designer", "new_revision", "Switched to white oak"),
                                 ("designer", "submit", None),
                                 ("admin", "start_review", None),
                                 ("project_manager", "approve_as_noted", None)):
        status, d = await _step(client, team, who, did, action, comment)
        assert status == 200, (action, d)
    assert (d["status"], d["revision"]) == ("approved_as_noted", "Rev C")
    assert d["approved_by"] == pm_id and d["approved_at"]
    assert d["ball_in_court"] is None and d["allowed_actions"] == []
    status, history = await send(client, "GET", f"{URL}/{did}/revisions",
                                 team.headers["client"])
    assert status == 200
    assert [(r["revision"], r["status"], r["comment"], r["closed_by"])
            for r in history["data"]] == [
        ("Rev A", "revise_and_resubmit", "Show the cable grommets",
         str(team.users["coordinator"]["id"])),
        ("Rev B", "rejected", "Wrong oak species", designer_id)]
    status, problem = await send(client, "PATCH", f"{URL}/{did}", team.headers["admin"],
                                 {"title": "late edit"})
    assert status == 409 and problem["code"] == "record_locked"
    status, problem = await send(client, "DELETE", f"{URL}/{did}", team.headers["admin"])
    assert status == 409


async def test_roles_before_state(client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    did = (await _drawing(client, team))["id"]
    expected = {  # role -> (submit from draft, approve in draft, approve in in_review)
        "admin": (200, 409, 200), "project_manager": (200, 409, 200),
        "designer": (200, 403, 403), "coordinator": (200, 403, 403),
        "craftsman": (403, 403, 403), "client": (403, 403, 403),
        "outsider": (404, 403, 403), "stranger": (404, 404, 404),
    }
    for who, (submit, approve_draft, approve_review) in expected.items():
        await _force(world, did, "draft")
        status, body = await _step(client, team, who, did, "approve")
        assert status == approve_draft, (who, body)
        if status == 409:
            assert body["code"] == "illegal_transition"
            assert body["allowed_actions"] == ["submit", "void"]
        status, _ = await _step(client, team, who, did, "submit")
        assert status == submit, who
        await _force(world, did, "in_review")
        status, _ = await _step(client, team, who, did, "approve")
        assert status == approve_review, who


async def test_comment_required(client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    did = (await _drawing(client, team))["id"]
    await _force(world, did, "in_review")
    for action in ("reject", "request_revision", "void"):
        status, problem = await _step(client, team, "project_manager", did, action, "  ")
        assert status == 422 and problem["errors"][0]["field"] == "comment", action
    status, d = await _step(client, team, "project_manager", did, "void", "Superseded")
    assert status == 200 and d["status"] == "void"
    status, problem = await _step(client, team, "project_manager", did, "new_revision")
    assert status == 409 and problem["allowed_actions"] == []


async def test_transition_is_audited_with_comment(client: TestClient[Any, Any],
                                                  world: World) -> None:
    team = await make_team(world, client)
    did = (await _drawing(client, team))["id"]
    await _force(world, did, "in_review")
    status, _ = await _step(client, team, "project_manager", did, "reject", "Missing sections",
                            X_Request_ID="req-reject-1")
    assert status == 200
    async with system_transaction(world.pool) as conn:
        found = await conn.fetch(
            "SELECT * FROM audit_logs WHERE record_id = $1 AND request_id = 'req-reject-1' "
            "ORDER BY id", uuid.UUID(did))
    assert [r["action"] for r in found] == ["update", "transition"]
    update, event = found
    assert "status" in update["changed_fields"] and update["new_values"]["status"] == "rejected"
    assert event["details"] == {"action": "reject", "from": "in_review", "to": "rejected",
                                "comment": "Missing sections", "revision": "Rev A"}
    assert event["table_name"] == "shop_drawings" and event["project_id"] == team.project
    assert update["txid"] == event["txid"]
    assert event["user_id"] == update["user_id"] == team.users["project_manager"]["id"]


async def test_one_of_two_concurrent_transitions_wins(client: TestClient[Any, Any],
                                                      world: World) -> None:
    team = await make_team(world, client)
    did = (await _drawing(client, team))["id"]
    results = await asyncio.gather(*(
        _step(client, team, who, did, "submit", If_Match='"1"')
        for who in ("designer", "coordinator")))
    assert sorted(s for s, _ in results) == [200, 412]
    loser = next(body for s, body in results if s == 412)
    assert loser["current_version"] == 2
    results = await asyncio.gather(*(
        _step(client, team, "project_manager", did, "start_review") for _ in range(2)))
    assert sorted(s for s, _ in results) == [200, 409]


async def test_idempotent_transition(client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    did = (await _drawing(client, team))["id"]
    first = await _step(client, team, "designer", did, "submit", Idempotency_Key="sub-1")
    again = await _step(client, team, "designer", did, "submit", Idempotency_Key="sub-1")
    assert first[0] == 200 and first == again
    async with system_transaction(world.pool) as conn:
        count = await conn.fetchval("SELECT count(*) FROM audit_logs WHERE record_id = $1 "
                                    "AND action = 'transition'", uuid.UUID(did))
    assert count == 1


DECIDED = ("approved", "approved_as_noted", "revise_and_resubmit", "rejected", "void")


async def test_decided_drawing_is_locked_for_every_role(client: TestClient[Any, Any],
                                                        world: World) -> None:
    team = await make_team(world, client)
    pm = team.headers["project_manager"]
    _, group = await send(client, "POST", "/api/v1/scope-groups", pm,
                          {"project_id": str(team.project), "name": "millwork"})
    _, item = await send(client, "POST", "/api/v1/scope-items", pm, {
        "project_id": str(team.project), "scope_group_id": group["id"], "name": "Desk"})
    drawing = await _drawing(client, team, room="Lobby")
    did = drawing["id"]
    edits = {"title": "Swapped", "drawing_number": "X-9", "room": "Attic",
             "drawing_type": "detail", "notes": "n", "scope_item_ids": [item["id"]]}
    for state in DECIDED:
        await _force(world, did, state)
        for who in ("designer", "project_manager", "admin"):
            for field, value in edits.items():
                status, problem = await send(client, "PATCH", f"{URL}/{did}",
                                             team.headers[who], {field: value})
                assert status == 409, (state, who, field, problem)
                assert problem["code"] == "record_locked"
                assert problem["locked_fields"] == [field]
        status, problem = await send(client, "PATCH", f"{URL}/{did}",
                                     team.headers["coordinator"], {"title": "Swapped"})
        assert status == 403  # coordinators never edit drawings: permission before state
    status, seen = await send(client, "GET", f"{URL}/{did}", pm)
    assert (seen["title"], seen["room"], seen["scope_item_ids"]) == (
        "Reception desk", "Lobby", [])
    status, _ = await send(client, "PATCH", f"{URL}/{did}", pm,
                              {"title": "Reception desk", "scope_item_ids": []})
    assert status == 200  # values sent back unchanged are not edits


async def test_returned_drawing_is_edited_through_a_new_revision(
        client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    did = (await _drawing(client, team))["id"]
    for who, action, comment in (("designer", "submit", None),
                                 ("project_manager", "start_review", None),
                                 ("project_manager", "reject", "Wrong species")):
        status, _ = await _step(client, team, who, did, action, comment)
        assert status == 200
    status, problem = await send(client, "PATCH", f"{URL}/{did}", team.headers["designer"],
                                 {"title": "White oak desk"})
    assert status == 409 and problem["allowed_actions"] == ["new_revision"]
    status, d = await _step(client, team, "designer", did, "new_revision")
    assert d["status"] == "draft"
    status, d = await send(client, "PATCH", f"{URL}/{did}", team.headers["designer"],
                           {"title": "White oak desk"})
    assert status == 200 and d["title"] == "White oak desk"
