"""The snag list over HTTP: numbering under concurrent creation, every transition by the
parties allowed and refused, pins carried to a drawing's next published revision, bad input
refused with nothing written, what a user who cannot read a snag never gets (lists, pins,
photos, events), query counts that do not grow with the page, and the handover view."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp.test_utils import TestClient

from db.pool import system_transaction
from realtime.feed.audience import client_copy
from realtime.feed.cursor import cursor_after
from realtime.feed.events import event_from_audit
from rules.calendar import today
from server.keys import POOL
from tests.conftest import World
from tests.server.api import counting_statements
from tests.server.project_team import Team, make_team, send

Client = TestClient[Any, Any]
URL = "/api/v1/punch-items"


# --- helpers -------------------------------------------------------------------------------

async def _sheet(client: Client, team: Team, number: str = "A-101") -> dict[str, Any]:
    """A drawing of the project with P01 published: (drawing, revision)."""
    pm = team.headers["project_manager"]
    status, drawing = await send(client, "POST", f"/api/v1/projects/{team.project}/drawings",
                                 pm, {"number": number, "title": "Ground floor plan"})
    assert status == 201, drawing
    revision = await _publish(client, team, drawing["id"], "P01")
    return {"drawing": drawing, "revision": revision}


async def _publish(client: Client, team: Team, drawing_id: str, code: str) -> Any:
    pm = team.headers["project_manager"]
    status, revision = await send(client, "POST", f"/api/v1/drawings/{drawing_id}/revisions",
                                  pm, {"revision": code})
    assert status == 201, revision
    status, published = await send(client, "POST",
                                   f"/api/v1/drawing-revisions/{revision['id']}/publish", pm)
    assert status == 200, published
    return published


async def _snag(client: Client, team: Team, who: str = "designer", **fields: Any) -> Any:
    status, snag = await send(client, "POST", URL, team.headers[who], {
        "project_id": str(team.project), "title": "Scratched door leaf", **fields})
    assert status == 201, snag
    return snag


async def _count(world: World, sql: str, *args: Any) -> int:
    async with system_transaction(world.pool) as conn:
        found: int = await conn.fetchval(sql, *args)
    return found


def _uid(team: Team, who: str) -> str:
    return str(team.users[who]["id"])


# --- numbering -----------------------------------------------------------------------------

async def test_numbers_have_no_gaps_under_concurrency(client: Client, world: World) -> None:
    team = await make_team(world, client)
    sheet = await _sheet(client, team)
    first = await _snag(client, team)
    assert first["number"] == 1 and first["status"] == "draft"
    # A creation refused after its number was taken (an unknown revision) gives it back.
    status, _ = await send(client, "POST", URL, team.headers["designer"], {
        "project_id": str(team.project), "title": "x",
        "pin": {"drawing_revision_id": str(team.project), "x": 0.5, "y": 0.5}})
    assert status == 422
    walk = {"project_id": str(team.project),
            "drawing_revision_id": sheet["revision"]["id"],
            "items": [{"title": f"Pin {i}", "x": i / 10, "y": 0.5} for i in range(5)]}
    jobs = [_snag(client, team, who=who) for who in
            ("designer", "coordinator", "project_manager", "admin") * 5]
    jobs.append(send(client, "POST", f"{URL}/walk", team.headers["coordinator"], walk))
    jobs.append(send(client, "POST", f"{URL}/walk", team.headers["designer"], walk))
    done = await asyncio.gather(*jobs)
    numbers = [s["number"] for s in done[:-2]]
    for status, created in done[-2:]:
        assert status == 201, created
        walked = [s["number"] for s in created["data"]]
        assert walked == list(range(walked[0], walked[0] + 5))  # one walk, consecutive
        numbers += walked
    assert sorted(numbers) == list(range(2, 2 + 20 + 10))
    other = await make_team(world, client)
    assert (await _snag(client, other))["number"] == 1


# --- transitions ---------------------------------------------------------------------------

EVERYONE = ("admin", "project_manager", "designer", "coordinator", "craftsman", "client",
            "outsider", "stranger")
# (action, comment, who performs it, from -> to); the snag names the coordinator its
# manager, the craftsman its assignee and the client user its final approver; the designer
# created it.
PATH = [
    ("initiate", None, "coordinator", "draft", "initiated"),
    ("start_work", None, "craftsman", "initiated", "work_required"),
    ("mark_ready", None, "craftsman", "work_required", "ready_for_review"),
    ("reject_work", "the scratch is still visible", "project_manager", "ready_for_review",
     "work_not_accepted"),
    ("mark_ready", None, "craftsman", "work_not_accepted", "ready_for_review"),
    ("accept_work", None, "coordinator", "ready_for_review", "ready_to_close"),
    ("not_accept", "the colour does not match", "client", "ready_to_close", "not_accepted"),
    ("reject_work", "repaint the leaf", "coordinator", "not_accepted", "work_not_accepted"),
    ("dispute", "the leaf was damaged by others", "craftsman", "work_not_accepted",
     "in_dispute"),
    ("reinitiate", "agreed: yours to repaint", "admin", "in_dispute", "initiated"),
    ("dispute", "not ours", "craftsman", "initiated", "in_dispute"),
    ("reinitiate", "it is", "coordinator", "in_dispute", "initiated"),
    ("start_work", None, "craftsman", "initiated", "work_required"),
    ("dispute", "still not ours", "craftsman", "work_required", "in_dispute"),
    ("reinitiate", "it is", "project_manager", "in_dispute", "initiated"),
    ("start_work", None, "craftsman", "initiated", "work_required"),
    ("mark_ready", None, "craftsman", "work_required", "ready_for_review"),
    ("accept_work", None, "project_manager", "ready_for_review", "ready_to_close"),
    ("not_accept", "one more coat", "admin", "ready_to_close", "not_accepted"),
    ("accept_work", None, "coordinator", "not_accepted", "ready_to_close"),
    ("close", "accepted on the walk", "client", "ready_to_close", "closed"),
]
PARTY_OF = {"initiate": "manager", "start_work": "assignee", "mark_ready": "assignee",
            "dispute": "assignee", "accept_work": "manager", "reject_work": "manager",
            "reinitiate": "manager", "close": "final_approver", "not_accept": "final_approver"}
NEEDS_COMMENT = {"dispute", "reject_work", "reinitiate", "not_accept"}
# Who holds each party of this snag (admins and project managers act as its manager,
# admins as its final approver).
HOLDERS = {"manager": {"admin", "project_manager", "coordinator"},
           "assignee": {"craftsman"}, "final_approver": {"admin", "client"}}


async def test_every_transition_by_allowed_and_forbidden_parties(client: Client,
                                                                 world: World) -> None:
    team = await make_team(world, client)
    snag = await _snag(client, team, manager_id=_uid(team, "coordinator"),
                       assignee_user_ids=[_uid(team, "craftsman")],
                       final_approver_id=_uid(team, "client"), trade="Joinery")
    path = f"{URL}/{snag['id']}/transitions"
    tried: set[str] = set()
    for action, comment, actor_name, source, target in PATH:
        allowed = HOLDERS[PARTY_OF[action]]
        assert actor_name in allowed
        body = {"action": action, "comment": comment}
        for who in EVERYONE:
            if who in allowed:
                continue
            status, problem = await send(client, "POST", path, team.headers[who], body)
            hidden = who in ("outsider", "stranger") or (who == "client" and source == "draft")
            assert status == (404 if hidden else 403), (action, who, status, problem)
        if action in NEEDS_COMMENT:  # the party without the required comment: 422
            status, problem = await send(client, "POST", path, team.headers[actor_name],
                                         {"action": action})
            assert status == 422 and problem["errors"][0]["field"] == "comment", problem
        status, moved = await send(client, "POST", path, team.headers[actor_name], body)
        assert status == 200, (action, moved)
        assert (moved["status"], moved["comment"]) == (target, comment), action
        tried.add(action)
    assert tried == set(PARTY_OF)
    assert moved["closed_at"] is not None and moved["allowed_actions"] == []
    # A party in the wrong state: 409 naming the state and its allowed actions.
    status, problem = await send(client, "POST", path, team.headers["craftsman"],
                                 {"action": "mark_ready"})
    assert status == 409 and problem["state"] == "closed"
    assert problem["allowed_actions"] == []
    # Unknown action: 422; a stale If-Match: 412 (after the party check).
    status, _ = await send(client, "POST", path, team.headers["coordinator"],
                           {"action": "explode"})
    assert status == 422
    other = await _snag(client, team, assignee_user_ids=[_uid(team, "craftsman")])
    status, problem = await send(client, "POST", f"{URL}/{other['id']}/transitions",
                                 team.headers["designer"], {"action": "initiate"},
                                 If_Match='"7"')
    assert status == 412
    status, problem = await send(client, "POST", f"{URL}/{other['id']}/transitions",
                                 team.headers["craftsman"], {"action": "initiate"},
                                 If_Match='"7"')
    assert status == 403
    # Each transition is on the audit trail with its comment, twice: the update and the
    # transition event.
    async with system_transaction(world.pool) as conn:
        events = await conn.fetch(
            "SELECT details FROM audit_logs WHERE table_name = 'punch_items' "
            "AND record_id = $1 AND action = 'transition' ORDER BY id", snag["id"])
    assert [(e["details"]["action"], e["details"]["comment"]) for e in events] == \
        [(a, c) for a, c, *_ in PATH]
    # The ball: the assignee was told when the snag was initiated, the manager when the
    # work was marked ready.
    async with system_transaction(world.pool) as conn:
        told = {(r["user_id"], r["data"]["action"]) for r in await conn.fetch(
            "SELECT user_id, data FROM notifications WHERE data->>'punch_item_id' = $1",
            snag["id"])}
    assert (team.users["craftsman"]["id"], "initiate") in told
    assert (team.users["coordinator"]["id"], "mark_ready") in told


async def test_initiate_needs_an_assignee_and_client_users_do_not_manage(
        client: Client, world: World) -> None:
    team = await make_team(world, client)
    snag = await _snag(client, team)
    path = f"{URL}/{snag['id']}/transitions"
    status, problem = await send(client, "POST", path, team.headers["designer"],
                                 {"action": "initiate"})
    assert status == 422 and problem["code"] == "no_assignee"
    # The company as assignee: its client users act as the assignee.
    client_id = str(team.users["client"]["client_id"])
    status, snag = await send(client, "PATCH", f"{URL}/{snag['id']}", team.headers["designer"],
                              {"assignee_client_id": client_id})
    assert status == 200 and snag["assignee_client_id"] == client_id
    status, snag = await send(client, "POST", path, team.headers["designer"],
                              {"action": "initiate"})
    assert status == 200
    status, snag = await send(client, "POST", path, team.headers["client"],
                              {"action": "start_work"})
    assert status == 200 and snag["status"] == "work_required"
    assert snag["allowed_actions"] == ["mark_ready", "dispute"]
    status, problem = await send(client, "POST", URL, team.headers["designer"], {
        "project_id": str(team.project), "title": "T", "manager_id": _uid(team, "client")})
    assert status == 422 and problem["errors"][0]["field"] == "manager_id"
    for who in ("craftsman", "client"):
        status, _ = await send(client, "POST", URL, team.headers[who], {
            "project_id": str(team.project), "title": "T"})
        assert status == 403, who


# --- pins ----------------------------------------------------------------------------------

async def test_pins_are_carried_to_the_next_published_revision(client: Client,
                                                               world: World) -> None:
    team = await make_team(world, client)
    sheet = await _sheet(client, team)
    p01 = sheet["revision"]
    status, walked = await send(client, "POST", f"{URL}/walk", team.headers["designer"], {
        "project_id": str(team.project), "drawing_revision_id": p01["id"],
        "defaults": {"trade": "Painting", "assignee_user_ids": [_uid(team, "craftsman")]},
        "items": [{"title": "Patch wall", "x": 0.1, "y": 0.2},
                  {"title": "Touch up skirting", "x": 0.9, "y": 0.95, "trade": "Joinery"},
                  {"title": "Closed already", "x": 0, "y": 1}]})
    assert status == 201, walked
    items = walked["data"]
    assert [i["trade"] for i in items] == ["Painting", "Joinery", "Painting"]
    assert all(i["drawing_revision_id"] == p01["id"] and not i["pin_needs_check"]
               for i in items)
    assert (items[1]["pin_x"], items[1]["pin_y"]) == (0.9, 0.95)
    async with system_transaction(world.pool) as conn:
        await conn.execute("UPDATE punch_items SET status = 'closed' WHERE id = $1",
                           items[2]["id"])
    # An unpublished revision holds no pins, and publishing nothing moves nothing.
    pm = team.headers["project_manager"]
    status, p02 = await send(client, "POST",
                             f"/api/v1/drawings/{sheet['drawing']['id']}/revisions", pm,
                             {"revision": "P02"})
    status, problem = await send(client, "POST", URL, team.headers["designer"], {
        "project_id": str(team.project), "title": "T",
        "pin": {"drawing_revision_id": p02["id"], "x": 0.5, "y": 0.5}})
    assert status == 422 and problem["errors"][0]["field"] == "pin.drawing_revision_id"
    status, _ = await send(client, "POST", f"/api/v1/drawing-revisions/{p02['id']}/publish",
                           pm)
    assert status == 200
    status, listed = await send(client, "GET", f"{URL}?project_id={team.project}"
                                f"&drawing_id={sheet['drawing']['id']}", pm)
    by_title = {i["title"]: i for i in listed["data"]}
    for title in ("Patch wall", "Touch up skirting"):
        moved = by_title[title]
        assert moved["drawing_revision_id"] == p02["id"] and moved["pin_needs_check"], moved
    assert by_title["Touch up skirting"]["pin_x"] == 0.9  # same place on the new sheet
    kept = by_title["Closed already"]
    assert kept["drawing_revision_id"] == p01["id"] and not kept["pin_needs_check"]
    # Moved in the publishing transaction: the audit rows of the moves share its txid.
    async with system_transaction(world.pool) as conn:
        txids = {r["txid"] for r in await conn.fetch(
            "SELECT txid FROM audit_logs WHERE (table_name = 'punch_items' AND action = "
            "'update' AND record_id = ANY ($1::uuid[])) OR (table_name = 'drawing_revisions' "
            "AND record_id = $2 AND action = 'update')",
            [items[0]["id"], items[1]["id"]], p02["id"])}
    assert len(txids) == 1
    # The manager checks a pin: the flag goes.
    status, checked = await send(client, "PATCH", f"{URL}/{items[0]['id']}",
                                 team.headers["designer"], {"pin_needs_check": False})
    assert status == 200 and not checked["pin_needs_check"]
    status, listed = await send(
        client, "GET", f"{URL}?project_id={team.project}&drawing_revision_id={p02['id']}", pm)
    assert {i["title"] for i in listed["data"]} == {"Patch wall", "Touch up skirting"}


# --- bad input -----------------------------------------------------------------------------

async def test_bad_input_is_a_clear_422_with_nothing_written(client: Client,
                                                             world: World) -> None:
    team = await make_team(world, client)
    other = await make_team(world, client)
    sheet = await _sheet(client, team)
    foreign = await _sheet(client, other)
    rev = sheet["revision"]["id"]
    base = {"project_id": str(team.project), "title": "T"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"pin": {"drawing_revision_id": rev, "x": 1.5, "y": 0.5}}, "pin.x"),
        ({"pin": {"drawing_revision_id": rev, "x": 0.5, "y": -0.01}}, "pin.y"),
        ({"pin": {"drawing_revision_id": rev, "x": "0.5", "y": 0.5}}, "pin.x"),
        ({"pin": {"drawing_revision_id": rev, "x": 0.5}}, "pin.y"),
        ({"pin": {"drawing_revision_id": foreign["revision"]["id"], "x": 0.5, "y": 0.5}},
         "pin.drawing_revision_id"),
        ({"title": ""}, "title"),
        ({"title": "a\u0000b"}, "title"),
        ({"title": "x" * 301}, "title"),
        ({"priority": "whenever"}, "priority"),
        ({"category": "nice_to_have"}, "category"),
        ({"due_on": 20270101}, "due_on"),
        ({"assignee_user_ids": [_uid(team, "outsider")]}, "assignee_user_ids"),
        ({"assignee_user_ids": [_uid(team, "stranger")]}, "assignee_user_ids"),
        ({"assignee_user_ids": [_uid(team, "craftsman")] * 51}, "assignee_user_ids"),
        ({"final_approver_id": _uid(other, "client")}, "final_approver_id"),
        ({"assignee_client_id": str(other.users["client"]["client_id"])},
         "assignee_client_id"),
        ({"unknown_field": 1}, "unknown_field"),
    ]
    for fields, field in cases:
        status, problem = await send(client, "POST", URL, team.headers["designer"],
                                     {**base, **fields})
        assert status == 422, (fields, problem)
        assert problem["type"] and problem["title"] and problem["detail"]
        assert field in {e["field"] for e in problem["errors"]}, (fields, problem)
    # NaN is not a number of the sheet (Python's JSON reader would take it).
    nan = ('{"project_id": "PROJECT", "title": "T", "pin": {"drawing_revision_id": "REV", '
           '"x": NaN, "y": 0.5}}').replace("PROJECT", str(team.project)).replace("REV", rev)
    response = await client.post(URL, data=nan,
        headers={**team.headers["designer"], "Content-Type": "application/json"})
    assert response.status in (400, 422)
    walk = {"project_id": str(team.project), "drawing_revision_id": rev,
            "items": [{"title": f"P{i}", "x": 0.5, "y": 0.5} for i in range(10)]}
    walk["items"][7]["x"] = 2  # one bad pin of ten: none of the ten is written
    status, problem = await send(client, "POST", f"{URL}/walk", team.headers["designer"], walk)
    assert status == 422 and problem["errors"][0]["field"] == "items.7.x", problem
    too_many = {**walk, "items": [{"title": "P", "x": 0.5, "y": 0.5}] * 201}
    status, problem = await send(client, "POST", f"{URL}/walk", team.headers["designer"],
                                 too_many)
    assert status == 422 and problem["errors"][0]["field"] == "items"
    status, problem = await send(client, "GET", f"{URL}?project_id={team.project}&overdue=maybe",
                                 team.headers["designer"])
    assert status == 422
    assert await _count(world, "SELECT count(*) FROM punch_items WHERE project_id = $1",
                        team.project) == 0
    # Nothing written includes the numbers: the next snag is number 1.
    assert (await _snag(client, team))["number"] == 1


# --- who sees what -------------------------------------------------------------------------

async def test_nothing_of_a_snag_reaches_a_user_who_cannot_read_it(client: Client,
                                                                  world: World) -> None:
    team = await make_team(world, client)
    sheet = await _sheet(client, team)
    pin = {"drawing_revision_id": sheet["revision"]["id"], "x": 0.3, "y": 0.3}
    internal = await _snag(client, team, pin=pin, assignee_user_ids=[_uid(team, "craftsman")])
    theirs = await _snag(client, team, pin=pin, category="client_preference",
                         assignee_client_id=str(team.users["client"]["client_id"]))
    draft_for_them = await _snag(client, team, final_approver_id=_uid(team, "client"))
    for snag in (internal, theirs):
        status, _ = await send(client, "POST", f"{URL}/{snag['id']}/transitions",
                               team.headers["designer"], {"action": "initiate"})
        assert status == 200
    # Photos: one on the internal snag, one on the client's.
    photos = {}
    for snag in (internal, theirs):
        status, photo = await send(client, "POST", "/api/v1/attachments",
                                   team.headers["designer"], {
                                       "project_id": str(team.project),
                                       "entity_type": "punch_item", "entity_id": snag["id"],
                                       "file_name": "snag.jpg", "content_type": "image/jpeg",
                                       "size": 100})
        assert status == 201, photo
        photos[snag["id"]] = photo["id"]
    base = f"{URL}?project_id={team.project}"
    status, listed = await send(client, "GET", base, team.headers["client"])
    assert status == 200 and [s["id"] for s in listed["data"]] == [theirs["id"]]
    status, listed = await send(client, "GET", f"{base}&drawing_id={sheet['drawing']['id']}",
                                team.headers["client"])
    assert [s["id"] for s in listed["data"]] == [theirs["id"]]  # pins too
    for snag in (internal, draft_for_them):
        status, _ = await send(client, "GET", f"{URL}/{snag['id']}", team.headers["client"])
        assert status == 404
    status, files = await send(client, "GET", "/api/v1/attachments?entity_type=punch_item"
                               f"&entity_id={internal['id']}", team.headers["client"])
    assert status == 404
    status, _ = await send(client, "GET", f"/api/v1/attachments/{photos[internal['id']]}",
                           team.headers["client"])
    assert status == 404
    status, files = await send(client, "GET", "/api/v1/attachments?entity_type=punch_item"
                               f"&entity_id={theirs['id']}&status=pending",
                               team.headers["client"])
    assert status == 200 and [f["id"] for f in files["data"]] == [photos[theirs["id"]]]
    status, listed = await send(client, "GET", base, team.headers["craftsman"])
    assert len(listed["data"]) == 3  # staff of the project: every snag
    for who in ("outsider", "stranger"):
        for path in (base, f"{URL}/{theirs['id']}", f"{base}&format=csv",
                     f"/api/v1/projects/{team.project}/handover",
                     f"/api/v1/attachments/{photos[theirs['id']]}"):
            status, _ = await send(client, "GET", path, team.headers[who]) \
                if "format=csv" not in path else (
                    (await client.get(path, headers=team.headers[who])).status, None)
            assert status == 404, (who, path)
        status, _ = await send(client, "POST", f"{URL}/{theirs['id']}/transitions",
                               team.headers[who], {"action": "start_work"})
        assert status == 404
        status, _ = await send(client, "POST", f"{URL}/reassign", team.headers[who],
                               {"ids": [theirs["id"]],
                                "assignee_user_ids": [_uid(team, "craftsman")]})
        assert status in (403, 422), who
    # Events: client users' sockets get no copy of a snag's or a snag photo's change
    # (row-level security decides per snag; the project room cannot).
    async with system_transaction(world.pool) as conn:
        rows = await conn.fetch(
            "SELECT table_name, action, old_values, new_values FROM audit_logs "
            "WHERE project_id = $1 AND table_name IN ('punch_items', 'attachments')",
            team.project)
    assert rows
    for row in rows:
        assert client_copy(row["table_name"], row["action"], row["old_values"],
                           row["new_values"], "x", {"changed_fields": None}) is None, row
    # The client's handover counts only what it may read.
    status, handover = await send(client, "GET", f"/api/v1/projects/{team.project}/handover",
                                  team.headers["client"])
    assert status == 200 and handover["open_count"] == 1


async def test_events_reach_the_project_room_but_not_client_sockets(client: Client,
                                                                    world: World) -> None:
    """The leader's event for a snag: to the staff of the project, never to client users'
    copy (checked on the events the feed builds from the audit rows)."""
    team = await make_team(world, client)
    snag = await _snag(client, team)
    async with system_transaction(world.pool) as conn:
        row = await conn.fetchrow(
            "SELECT * FROM audit_logs WHERE table_name = 'punch_items' AND record_id = $1",
            snag["id"])
    record = dict(row)
    event = event_from_audit(record, cursor_after(record["txid"], record["id"], 0))
    assert event is not None and event.name == "punch_item.created"
    assert event.rooms == (f"project:{team.project}",)
    assert event.client is None
    deliveries = event.deliveries()
    assert [rooms for _, _, rooms in deliveries] == [(f"project:{team.project}:staff",)]


# --- lists ---------------------------------------------------------------------------------

async def test_list_filters_overdue_in_the_project_zone(client: Client, world: World) -> None:
    team = await make_team(world, client)
    async with system_transaction(world.pool) as conn:
        await conn.execute("UPDATE projects SET time_zone = 'Pacific/Kiritimati' WHERE id = $1",
                           team.project)
    local = today(dt.datetime.now(dt.UTC), __import__("zoneinfo").ZoneInfo("Pacific/Kiritimati"))
    late = await _snag(client, team, assignee_user_ids=[_uid(team, "craftsman")],
                       due_on=(local - dt.timedelta(days=1)).isoformat(), trade="Painting")
    due_today = await _snag(client, team, assignee_user_ids=[_uid(team, "craftsman")],
                            due_on=local.isoformat())
    late_draft = await _snag(client, team, due_on=(local - dt.timedelta(days=3)).isoformat())
    for snag in (late, due_today):
        await send(client, "POST", f"{URL}/{snag['id']}/transitions", team.headers["designer"],
                   {"action": "initiate"})
    base = f"{URL}?project_id={team.project}"
    h = team.headers["designer"]
    _, listed = await send(client, "GET", f"{base}&overdue=true", h)
    assert [s["id"] for s in listed["data"]] == [late["id"]] and listed["data"][0]["overdue"]
    _, listed = await send(client, "GET", f"{base}&status=draft", h)
    assert [s["id"] for s in listed["data"]] == [late_draft["id"]]
    _, listed = await send(client, "GET", f"{base}&assignee={_uid(team, 'craftsman')}", h)
    assert {s["id"] for s in listed["data"]} == {late["id"], due_today["id"]}
    _, listed = await send(client, "GET", f"{base}&trade=Painting", h)
    assert [s["id"] for s in listed["data"]] == [late["id"]]
    _, page1 = await send(client, "GET", f"{base}&limit=2", h)
    _, page2 = await send(client, "GET", f"{base}&limit=2&cursor={page1['next_cursor']}", h)
    assert [s["number"] for s in page1["data"] + page2["data"]] == [1, 2, 3]
    response = await client.get(f"{base}&format=csv", headers=h)
    assert response.status == 200 and "Scratched door leaf" in await response.text()


async def test_bulk_reassign(client: Client, world: World) -> None:
    team = await make_team(world, client)
    snags = [await _snag(client, team, assignee_user_ids=[_uid(team, "craftsman")])
             for _ in range(3)]
    ids = [s["id"] for s in snags]
    body = {"ids": ids, "assignee_user_ids": [_uid(team, "coordinator")]}
    status, _ = await send(client, "POST", f"{URL}/reassign", team.headers["craftsman"], body)
    assert status == 403
    status, done = await send(client, "POST", f"{URL}/reassign", team.headers["designer"], body)
    assert status == 200, done
    assert [s["assignee_user_ids"] for s in done["data"]] == [[_uid(team, "coordinator")]] * 3
    status, problem = await send(client, "POST", f"{URL}/reassign", team.headers["designer"],
                                 {**body, "ids": [*ids, str(team.project)]})
    assert status == 422 and problem["errors"][0]["field"] == "ids"
    status, problem = await send(client, "POST", f"{URL}/reassign", team.headers["designer"],
                                 {**body, "assignee_user_ids": [_uid(team, "outsider")]})
    assert status == 422
    async with system_transaction(world.pool) as conn:
        await conn.execute("UPDATE punch_items SET status = 'closed' WHERE id = $1", ids[1])
    status, problem = await send(client, "POST", f"{URL}/reassign", team.headers["designer"],
                                 body)
    assert status == 409 and problem["code"] == "record_locked"
    assert await _count(world, "SELECT count(*) FROM audit_logs WHERE table_name = "
                        "'punch_items' AND action = 'update' AND record_id = ANY ($1::uuid[])",
                        ids) == 4  # one each from the reassignment that passed, and the close


# --- query counts (no N+1) -----------------------------------------------------------------

INTROSPECTION = ("typeinfo_tree", "'jit'", "set_config('jit'", "BEGIN", "COMMIT")


@asynccontextmanager
async def counted(client: Client) -> AsyncIterator[list[str]]:
    """Our statements on the app's pool meanwhile, read by asyncpg's own query logger on
    each real connection (tests/server/api.py), but asyncpg's type introspection (once per
    connection and type) and the transaction's BEGIN and COMMIT."""
    seen: list[str] = []
    async with counting_statements(client.app[POOL]) as counter:
        yield seen
        await asyncio.sleep(0)  # the logger's callbacks run on the next loop turn
        seen.extend(q for q in counter.queries if not any(w in q for w in INTROSPECTION))


async def test_query_counts_do_not_grow_with_the_page(client: Client, world: World) -> None:
    team = await make_team(world, client)
    sheet = await _sheet(client, team)
    h = team.headers["designer"]

    def walk(n: int) -> dict[str, Any]:
        return {"project_id": str(team.project), "drawing_revision_id": sheet["revision"]["id"],
                "defaults": {"assignee_user_ids": [_uid(team, "craftsman")],
                             "final_approver_id": _uid(team, "project_manager")},
                "items": [{"title": f"Pin {i}", "x": 0.5, "y": 0.5} for i in range(n)]}

    for n in (1, 1):  # warm: the session is cached, each connection knows the types
        status, _ = await send(client, "POST", f"{URL}/walk", h, walk(n))
        status, _ = await send(client, "GET", f"{URL}?project_id={team.project}", h)
    counts = {}
    for n in (2, 120):
        async with counted(client) as seen:
            status, _ = await send(client, "POST", f"{URL}/walk", h, walk(n))
        assert status == 201
        counts[n] = len(seen)
    assert counts[2] == counts[120] > 0, counts
    async with system_transaction(world.pool) as conn:  # photos on some snags
        await conn.execute(
            """INSERT INTO attachments (org_id, project_id, entity_type, entity_id, file_name,
                                        mime_type, size, storage_key, status)
               SELECT org_id, project_id, 'punch_item', id, 'p.jpg', 'image/jpeg', 1,
                      gen_random_uuid()::text, 'ready'
               FROM punch_items WHERE project_id = $1 AND number % 3 = 0""", team.project)
    lists = {}
    for limit in (2, 120):
        async with counted(client) as seen:
            status, listed = await send(client, "GET",
                                        f"{URL}?project_id={team.project}&limit={limit}", h)
        assert status == 200 and len(listed["data"]) == limit
        lists[limit] = len(seen)
    assert lists[2] == lists[120] > 0, lists
    assert [s["photo_count"] for s in listed["data"][:3]] == [0, 0, 1]
    ids = [s["id"] for s in listed["data"]]
    reassigned = {}
    for n in (2, 100):
        async with counted(client) as seen:
            status, _ = await send(client, "POST", f"{URL}/reassign", h, {
                "ids": ids[:n], "assignee_user_ids": [_uid(team, "coordinator")]})
        assert status == 200
        reassigned[n] = len(seen)
    assert reassigned[2] == reassigned[100], reassigned


# --- handover ------------------------------------------------------------------------------

async def test_handover_view(client: Client, world: World) -> None:
    team = await make_team(world, client)
    path = f"/api/v1/projects/{team.project}/handover"
    status, empty = await send(client, "GET", path, team.headers["designer"])
    assert status == 200 and empty["defects_period_months"] == 12
    assert empty["practical_completion_on"] is None and empty["open_count"] == 0
    status, project = await send(client, "PATCH", f"/api/v1/projects/{team.project}",
                                 team.headers["project_manager"],
                                 {"practical_completion_on": "2026-01-31",
                                  "defects_period_months": 13})
    assert status == 200 and project["defects_period_months"] == 13
    for bad in ({"defects_period_months": -1}, {"defects_period_months": 121},
                {"defects_period_months": None}, {"practical_completion_on": "31/01/2026"}):
        status, _ = await send(client, "PATCH", f"/api/v1/projects/{team.project}",
                               team.headers["project_manager"], bad)
        assert status == 422, bad
    status, _ = await send(client, "PATCH", f"/api/v1/projects/{team.project}",
                           team.headers["designer"], {"defects_period_months": 6})
    assert status == 403
    crafts = [_uid(team, "craftsman")]
    made = [await _snag(client, team, trade=trade, category=category, assignee_user_ids=crafts)
            for trade, category in (("Painting", "defect"), ("Painting", "client_preference"),
                                    ("Joinery", "defect"), (None, "defect"),
                                    ("Joinery", "defect"))]
    for snag in made[:4]:
        await send(client, "POST", f"{URL}/{snag['id']}/transitions",
                   team.headers["designer"], {"action": "initiate"})
    async with system_transaction(world.pool) as conn:
        await conn.execute("UPDATE punch_items SET status = 'closed' WHERE id = $1",
                           made[2]["id"])
    status, view = await send(client, "GET", path, team.headers["client"])
    status, view = await send(client, "GET", path, team.headers["designer"])
    assert status == 200, view
    assert view["defects_period_ends_on"] == "2027-02-28"  # 31 Jan + 13 months
    assert view["open_count"] == 3 and view["closed_count"] == 1
    assert view["by_category"] == {"defect": 2, "client_preference": 1}
    assert view["by_status"] == {"initiated": 3}
    assert [(t["trade"], t["open"], t["by_category"]) for t in view["by_trade"]] == [
        ("Painting", 2, {"defect": 1, "client_preference": 1}),
        (None, 1, {"defect": 1, "client_preference": 0})]
    json.dumps(view)
