"""RFIs over HTTP: numbering under concurrent creation, due dates in working days, the
states, official answers, and who may see an RFI."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient

from db.pool import system_transaction
from rules.calendar import add_working_days, make_calendar
from tests.conftest import World
from tests.server.project_team import Team, make_team, send

Client = TestClient[Any, Any]
URL = "/api/v1/rfis"


async def _rfi(client: Client, team: Team, who: str = "designer", **fields: Any) -> Any:
    status, rfi = await send(client, "POST", URL, team.headers[who], {
        "project_id": str(team.project), "subject": "Ceiling height at grid C",
        "question": "Which height governs, A-101 or M-301?", **fields})
    assert status == 201, rfi
    return rfi


async def test_numbers_have_no_gaps_or_duplicates_under_concurrency(client: Client,
                                                                    world: World) -> None:
    team = await make_team(world, client)
    first = await _rfi(client, team)
    assert first["number"] == "RFI-001" and first["status"] == "draft"
    # One creation that fails after taking its number gives it back.
    status, _ = await send(client, "POST", URL, team.headers["designer"], {
        "project_id": str(team.project), "subject": "x", "question": "y",
        "drawing_ids": [str(team.project)]})
    assert status == 422
    results = await asyncio.gather(*(_rfi(client, team, who=who) for who in
                                     ("designer", "coordinator", "project_manager") * 6))
    numbers = sorted(r["number"] for r in results)
    assert numbers == [f"RFI-{n:03d}" for n in range(2, 20)]
    # Another project counts from 1.
    other = await make_team(world, client)
    assert (await _rfi(client, other))["number"] == "RFI-001"


async def test_default_due_date_in_working_days_and_bad_input(client: Client,
                                                              world: World) -> None:
    team = await make_team(world, client)
    rfi = await _rfi(client, team)
    today = dt.datetime.now(ZoneInfo("UTC")).date()
    assert rfi["due_on"] == add_working_days(make_calendar(), today, 7).isoformat()
    yesterday = (today - dt.timedelta(days=2)).isoformat()
    for fields, field in (({"due_on": yesterday}, "due_on"),
                          ({"cost_impact": "no", "cost_amount": "100"}, "cost_amount"),
                          ({"schedule_days": 3}, "schedule_days"),
                          ({"priority": "urgent"}, "priority"),
                          ({"distribution": [str(team.users["stranger"]["id"])]}, "distribution"),
                          ({"distribution": [str(team.users["outsider"]["id"])]}, "distribution")):
        status, problem = await send(client, "POST", URL, team.headers["designer"], {
            "project_id": str(team.project), "subject": "S", "question": "Q", **fields})
        assert status == 422, (fields, problem)
        assert field in {e["field"] for e in problem["errors"]} or \
            problem["code"] == "due_date_in_past", (fields, problem)
    status, rfi = await send(client, "POST", URL, team.headers["designer"], {
        "project_id": str(team.project), "subject": "S", "question": "Q",
        "cost_impact": "yes", "cost_amount": "1250.50", "schedule_impact": "yes",
        "schedule_days": 4, "priority": "high"})
    assert status == 201 and rfi["cost_amount"] == "1250.50" and rfi["schedule_days"] == 4


async def test_states_responses_official_answer(client: Client, world: World) -> None:
    team = await make_team(world, client)
    rfi = await _rfi(client, team, distribution=[str(team.users["coordinator"]["id"])])
    path = f"{URL}/{rfi['id']}"
    status, problem = await send(client, "POST", f"{path}/responses",
                                 team.headers["coordinator"], {"body": "early"})
    assert status == 409 and problem["code"] == "illegal_transition"
    status, problem = await send(client, "POST", f"{path}/transitions",
                                 team.headers["coordinator"], {"action": "open"})
    assert status == 403
    status, rfi = await send(client, "POST", f"{path}/transitions", team.headers["designer"],
                             {"action": "open"})
    assert status == 200 and rfi["status"] == "open"
    status, listed = await send(
        client, "GET", f"{URL}?project_id={team.project}&ball_in_court="
        f"{team.users['coordinator']['id']}", team.headers["designer"])
    assert [r["id"] for r in listed["data"]] == [rfi["id"]]
    status, rfi = await send(client, "POST", f"{path}/responses", team.headers["coordinator"],
                             {"body": "A-101 governs: 2.70 m"})
    assert status == 201 and len(rfi["responses"]) == 1
    status, problem = await send(client, "POST", f"{path}/transitions",
                                 team.headers["designer"], {"action": "close"})
    assert status == 409
    response_id = rfi["responses"][0]["id"]
    status, rfi = await send(client, "POST", f"{path}/responses/{response_id}/official",
                             team.headers["designer"])
    assert status == 200 and rfi["status"] == "answered"
    assert rfi["official_response_id"] == response_id and rfi["responses"][0]["official"]
    status, rfi = await send(client, "POST", f"{path}/transitions", team.headers["designer"],
                             {"action": "reopen", "comment": "needs the ceiling type"})
    assert rfi["status"] == "open"
    status, rfi = await send(client, "POST", f"{path}/responses/{response_id}/official",
                             team.headers["project_manager"])
    status, rfi = await send(client, "POST", f"{path}/transitions", team.headers["designer"],
                             {"action": "close"})
    assert status == 200 and rfi["status"] == "closed"
    status, problem = await send(client, "POST", f"{path}/transitions",
                                 team.headers["designer"], {"action": "void"})
    assert status == 409 and problem["allowed_actions"] == []
    async with system_transaction(world.pool) as conn:
        told = {(r["user_id"], r["type"]) for r in await conn.fetch(
            "SELECT user_id, type FROM notifications WHERE data->>'rfi_id' = $1", rfi["id"])}
    coordinator, designer = team.users["coordinator"]["id"], team.users["designer"]["id"]
    # The coordinator (distribution) on opening and answering; the designer (its creator)
    # when the project manager, not they, marked the answer official.
    assert told == {(coordinator, "rfi_open"), (coordinator, "rfi_answered"),
                    (designer, "rfi_answered")}
    async with system_transaction(world.pool) as conn:
        comments = await conn.fetch(
            "SELECT new_values FROM audit_logs WHERE table_name = 'rfis' AND record_id = $1 "
            "AND action = 'update'", rfi["id"])
    assert any((r["new_values"] or {}).get("comment") == "needs the ceiling type"
               for r in comments)


async def test_who_sees_an_rfi(client: Client, world: World) -> None:
    team = await make_team(world, client)
    private = await _rfi(client, team)
    shared = await _rfi(client, team, distribution=[str(team.users["client"]["id"])])
    for who, visible in (("designer", {private["id"], shared["id"]}),
                         ("client", {shared["id"]}), ("craftsman", {private["id"],
                                                                    shared["id"]})):
        status, listed = await send(client, "GET", f"{URL}?project_id={team.project}",
                                    team.headers[who])
        assert status == 200 and {r["id"] for r in listed["data"]} == visible, who
    for who in ("outsider", "stranger"):
        status, _ = await send(client, "GET", f"{URL}?project_id={team.project}",
                               team.headers[who])
        assert status == 404, who
        status, _ = await send(client, "GET", f"{URL}/{shared['id']}", team.headers[who])
        assert status == 404, who
    status, _ = await send(client, "GET", f"{URL}/{private['id']}", team.headers["client"])
    assert status == 404


async def test_the_default_due_period_is_a_project_setting(client: Client,
                                                           world: World) -> None:
    team = await make_team(world, client)
    path = f"/api/v1/projects/{team.project}"
    status, project = await send(client, "GET", path, team.headers["project_manager"])
    assert status == 200 and project["rfi_due_days"] == 7
    version = project["version"]
    for bad in (-1, 366, "5", None, True, 2.5):
        status, problem = await send(client, "PATCH", path, team.headers["project_manager"],
                                     {"rfi_due_days": bad})
        assert status == 422, (bad, problem)
        assert "rfi_due_days" in {e["field"] for e in problem["errors"]}, (bad, problem)
    for who, expected in (("designer", 403), ("outsider", 403), ("stranger", 404)):
        status, _ = await send(client, "PATCH", path, team.headers[who], {"rfi_due_days": 2})
        assert status == expected, who
    status, project = await send(client, "GET", path, team.headers["project_manager"])
    assert project["version"] == version and project["rfi_due_days"] == 7  # nothing written
    status, project = await send(client, "PATCH", path, team.headers["project_manager"],
                                 {"rfi_due_days": 3}, If_Match=f'"{version}"')
    assert status == 200 and project["rfi_due_days"] == 3, project
    rfi = await _rfi(client, team)
    today = dt.datetime.now(ZoneInfo("UTC")).date()
    assert rfi["due_on"] == add_working_days(make_calendar(), today, 3).isoformat()
    status, problem = await send(client, "PATCH", path, team.headers["project_manager"],
                                 {"rfi_due_days": 0}, If_Match=f'"{version}"')
    assert status == 412  # a stale version
    # Another project keeps the default.
    other = await make_team(world, client)
    assert (await _rfi(client, other))["due_on"] == add_working_days(
        make_calendar(), today, 7).isoformat()
