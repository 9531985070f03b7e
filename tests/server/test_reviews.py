"""The review engine over HTTP: templates, serial and parallel steps, role and client-company
reviewers, reassign / skip / terminate, ball in court, audit rows with comments."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from db.pool import system_transaction
from tests.conftest import World
from tests.server.project_team import Team, make_team, send

Client = TestClient[Any, Any]
OUTCOMES = [{"label": "rejected", "status": "rejected"},
            {"label": "revise_and_resubmit", "status": "revise_and_resubmit"},
            {"label": "approved_as_noted", "status": "approved_as_noted"},
            {"label": "approved", "status": "approved"}]


async def _drawing(client: Client, team: Team, submit: bool = True) -> str:
    status, drawing = await send(client, "POST", "/api/v1/shop-drawings",
                                 team.headers["designer"],
                                 {"project_id": str(team.project), "drawing_number": "AK-1",
                                  "title": "Reception desk"})
    assert status == 201, drawing
    if submit:
        status, drawing = await send(client, "POST",
                                     f"/api/v1/shop-drawings/{drawing['id']}/transitions",
                                     team.headers["designer"], {"action": "submit"})
        assert status == 200, drawing
    return str(drawing["id"])


async def _drawing_status(client: Client, team: Team, drawing: str) -> str:
    status, row = await send(client, "GET", f"/api/v1/shop-drawings/{drawing}",
                             team.headers["designer"])
    assert status == 200
    return str(row["status"])


async def _template(client: Client, team: Team, steps: list[dict[str, Any]]) -> str:
    status, template = await send(client, "POST", "/api/v1/review-templates",
                                  team.headers["project_manager"],
                                  {"project_id": str(team.project), "name": "Submittal",
                                   "outcomes": OUTCOMES, "steps": steps})
    assert status == 201, template
    return str(template["id"])


async def _start(client: Client, team: Team, drawing: str, template: str) -> dict[str, Any]:
    status, review = await send(client, "POST", "/api/v1/reviews", team.headers["designer"],
                                {"entity_type": "shop_drawing", "entity_id": drawing,
                                 "template_id": template})
    assert status == 201, review
    return dict(review)


def _pending(review: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in review["tasks"] if t["state"] == "pending"]


async def _respond(client: Client, team: Team, who: str, task: dict[str, Any], outcome: str,
                   comment: str | None = "ok") -> tuple[int, Any]:
    return await send(client, "POST", f"/api/v1/review-tasks/{task['id']}/respond",
                      team.headers[who], {"outcome": outcome, "comment": comment})


async def test_parallel_then_serial_with_client_role_and_optional(client: Client,
                                                                  world: World) -> None:
    team = await make_team(world, client)
    client_company = str(team.users["client"]["client_id"])
    designer = str(team.users["designer"]["id"])
    template = await _template(client, team, [
        {"name": "Design and client", "rule": "all", "days": 3, "reviewers": [
            {"kind": "user", "ref": designer},
            {"kind": "client", "ref": client_company},
            {"kind": "role", "ref": "coordinator", "required": False}]},
        {"name": "Approval", "rule": "any", "days": 2,
         "reviewers": [{"kind": "role", "ref": "project_manager"}]}])
    drawing = await _drawing(client, team)
    review = await _start(client, team, drawing, template)
    assert review["status"] == "in_progress" and len(review["tasks"]) == 3
    assert await _drawing_status(client, team, drawing) == "in_review"
    status, problem = await send(client, "POST", "/api/v1/reviews", team.headers["designer"],
                                 {"entity_type": "shop_drawing", "entity_id": drawing,
                                  "template_id": template})
    assert status == 409 and problem["code"] == "review_in_progress"
    assert {t["due_on"] for t in review["tasks"]} == {review["tasks"][0]["due_on"]}
    assert {b["kind"] for b in review["ball_in_court"]} == {"user", "client", "role"}
    by_kind = {t["reviewer_kind"]: t for t in review["tasks"]}
    async with system_transaction(world.pool) as conn:
        told = {r["user_id"] for r in await conn.fetch(
            "SELECT user_id FROM notifications WHERE type = 'review_task' "
            "AND data->>'review_id' = $1", review["id"])}
    # The client company's user and the coordinator are told; the designer started it.
    assert told == {team.users["client"]["id"], team.users["coordinator"]["id"]}

    # Only they may answer: a craftsman is refused, an outsider does not even see the task.
    status, problem = await _respond(client, team, "craftsman", by_kind["client"], "approved")
    assert status == 403 and problem["code"] == "not_your_task"
    status, problem = await _respond(client, team, "outsider", by_kind["client"], "approved")
    assert status == 404
    status, problem = await _respond(client, team, "client", by_kind["client"], "maybe")
    assert status == 422 and problem["code"] == "unknown_outcome"
    # The client company answers; the optional coordinator never does.
    status, review = await _respond(client, team, "client", by_kind["client"], "approved",
                                    "fine by us")
    assert status == 200, review
    assert review["current_step"] == 0
    status, problem = await _respond(client, team, "client", by_kind["client"], "approved")
    assert status == 409 and problem["code"] == "task_not_pending"
    status, review = await _respond(client, team, "designer", by_kind["user"],
                                    "approved_as_noted", "see notes")
    assert status == 200, review
    assert review["current_step"] == 1
    states = {t["reviewer_kind"] + str(t["step"]): t["state"] for t in review["tasks"]}
    assert states == {"user0": "responded", "client0": "responded", "role0": "closed",
                      "role1": "pending"}
    assert [(b["kind"], b["ref"]) for b in review["ball_in_court"]] == [
        ("role", "project_manager")]
    step2 = _pending(review)[0]
    status, review = await _respond(client, team, "project_manager", step2, "rejected",
                                    "wrong veneer")
    assert status == 200, review
    assert review["status"] == "completed" and review["result"] == "rejected"
    assert review["result_status"] == "rejected" and review["ball_in_court"] == []
    # The result moved the drawing through its own state machine.
    assert await _drawing_status(client, team, drawing) == "rejected"
    async with system_transaction(world.pool) as conn:
        trail = await conn.fetch(
            "SELECT table_name, details FROM audit_logs WHERE action = 'transition' "
            "AND project_id = $1 ORDER BY id", team.project)
    steps = [(r["table_name"], r["details"]["action"]) for r in trail]
    assert steps == [
        ("shop_drawings", "submit"), ("shop_drawings", "start_review"), ("reviews", "start"),
        ("review_tasks", "respond"), ("review_tasks", "respond"), ("reviews", "advance"),
        ("review_tasks", "respond"), ("reviews", "complete"), ("shop_drawings", "reject")]
    assert trail[-1]["details"]["review_id"] == review["id"]
    assert trail[3]["details"]["comment"] == "fine by us"
    async with system_transaction(world.pool) as conn:
        rows = await conn.fetch(
            "SELECT new_values, user_id FROM audit_logs WHERE table_name = 'review_tasks' "
            "AND action = 'update' AND record_id = $1", step2["id"])
    assert any(r["new_values"].get("comment") == "wrong veneer"
               and r["user_id"] == team.users["project_manager"]["id"] for r in rows)


async def test_reassign_skip_terminate(client: Client, world: World) -> None:
    team = await make_team(world, client)
    designer = str(team.users["designer"]["id"])
    coordinator = str(team.users["coordinator"]["id"])
    template = await _template(client, team, [
        {"reviewers": [{"kind": "user", "ref": designer}]},
        {"reviewers": [{"kind": "user", "ref": coordinator}]},
        {"reviewers": [{"kind": "role", "ref": "project_manager"}]}])
    drawing = await _drawing(client, team)
    review = await _start(client, team, drawing, template)
    task = _pending(review)[0]
    path = f"/api/v1/review-tasks/{task['id']}/reassign"
    status, problem = await send(client, "POST", path, team.headers["coordinator"],
                                 {"kind": "user", "ref": coordinator})
    assert status == 403 and problem["code"] == "not_initiator"
    status, problem = await send(client, "POST", path, team.headers["designer"],
                                 {"kind": "user", "ref": "nobody"})
    assert status == 422
    status, problem = await send(client, "POST", path, team.headers["designer"],
                                 {"kind": "user", "ref": str(team.users["stranger"]["id"])})
    assert status == 422 and problem["code"] == "recipient_cannot_read"
    status, review = await send(client, "POST", path, team.headers["designer"],
                                {"kind": "user", "ref": coordinator, "comment": "on leave"})
    assert status == 200, review
    assert _pending(review)[0]["reviewer_ref"] == coordinator
    status, problem = await _respond(client, team, "designer", task, "approved")
    assert status == 403
    status, review = await _respond(client, team, "coordinator", task, "approved")
    assert review["current_step"] == 1
    status, review = await send(client, "POST", f"/api/v1/reviews/{review['id']}/skip",
                                team.headers["designer"], {"comment": "not needed"})
    assert status == 200, review
    assert review["current_step"] == 2
    assert [t["state"] for t in review["tasks"] if t["step"] == 1] == ["skipped"]
    status, review = await send(client, "POST", f"/api/v1/reviews/{review['id']}/terminate",
                                team.headers["designer"], {"comment": "superseded"})
    assert status == 200 and review["status"] == "terminated"
    assert review["ball_in_court"] == []
    status, problem = await send(client, "POST", f"/api/v1/reviews/{review['id']}/skip",
                                 team.headers["designer"], {})
    assert status == 409 and problem["code"] == "review_not_in_progress"
    status, listed = await send(client, "GET",
                                f"/api/v1/reviews?entity_type=shop_drawing&entity_id={drawing}",
                                team.headers["designer"])
    assert status == 200 and [r["id"] for r in listed["data"]] == [review["id"]]
    status, _ = await send(client, "GET", f"/api/v1/reviews/{review['id']}",
                           team.headers["stranger"])
    assert status == 404


async def test_bad_templates_write_nothing(client: Client, world: World) -> None:
    team = await make_team(world, client)
    base = {"project_id": str(team.project), "name": "T", "outcomes": OUTCOMES}
    for steps, code in (([{"reviewers": []}], "step_without_reviewers"),
                        ([], "no_steps"),
                        ([{"reviewers": [{"kind": "role", "ref": "pope"}]}], "invalid_reviewer"),
                        ([{"reviewers": [{"kind": "user", "ref": "x"}], "rule": "most"}],
                         "invalid_completion_rule"),
                        ([{"reviewers": [{"kind": "user",
                                          "ref": str(team.users["outsider"]["id"])}]}],
                         "recipient_cannot_read"),
                        ([{"reviewers": [{"kind": "client", "ref": str(team.project)}]}],
                         "recipient_cannot_read")):
        status, problem = await send(client, "POST", "/api/v1/review-templates",
                                     team.headers["project_manager"], {**base, "steps": steps})
        assert status == 422 and problem["code"] == code, (steps, problem)
    status, problem = await send(client, "POST", "/api/v1/review-templates",
                                 team.headers["designer"],
                                 {**base, "steps": [{"reviewers": [
                                     {"kind": "role", "ref": "designer"}]}]})
    assert status == 403
    status, listed = await send(client, "GET",
                                f"/api/v1/review-templates?project_id={team.project}",
                                team.headers["project_manager"])
    assert status == 200 and listed["data"] == []
    # A review of a draft (not submitted) drawing is refused; so is an outcome the drawing
    # cannot reach from review.
    reviewer = [{"reviewers": [{"kind": "role", "ref": "project_manager"}]}]
    template = await _template(client, team, reviewer)
    draft = await _drawing(client, team, submit=False)
    status, problem = await send(client, "POST", "/api/v1/reviews", team.headers["designer"],
                                 {"entity_type": "shop_drawing", "entity_id": draft,
                                  "template_id": template})
    assert status == 409 and problem["code"] == "illegal_transition"
    status, voiding = await send(client, "POST", "/api/v1/review-templates",
                                 team.headers["project_manager"],
                                 {**base, "outcomes": [{"label": "back", "status": "draft"}],
                                  "steps": reviewer})
    assert status == 201
    status, problem = await send(client, "POST", "/api/v1/reviews", team.headers["designer"],
                                 {"entity_type": "shop_drawing", "entity_id": draft,
                                  "template_id": voiding["id"]})
    assert status == 422 and problem["code"] == "invalid_outcome_status"
    async with system_transaction(world.pool) as conn:
        assert await conn.fetchval("SELECT count(*) FROM reviews WHERE project_id = $1",
                                   team.project) == 0


async def test_default_review_and_the_revision_loop(client: Client, world: World) -> None:
    """Without a template: today's single reviewer (any project manager of the team); a
    revise-and-resubmit result, a new revision, a new review: each revision keeps its own."""
    team = await make_team(world, client)
    drawing = await _drawing(client, team)
    status, first = await send(client, "POST", "/api/v1/reviews", team.headers["designer"],
                               {"entity_type": "shop_drawing", "entity_id": drawing})
    assert status == 201, first
    assert [(t["reviewer_kind"], t["reviewer_ref"]) for t in first["tasks"]] == [
        ("role", "project_manager")]
    status, _problem = await _respond(client, team, "designer", first["tasks"][0], "approved")
    assert status == 403
    status, first = await _respond(client, team, "project_manager", first["tasks"][0],
                                   "revise_and_resubmit", "dimension the reveal")
    assert first["result"] == "revise_and_resubmit"
    assert await _drawing_status(client, team, drawing) == "revise_and_resubmit"
    for action in ("new_revision", "submit"):
        status, row = await send(client, "POST",
                                 f"/api/v1/shop-drawings/{drawing}/transitions",
                                 team.headers["designer"], {"action": action})
        assert status == 200, row
    assert row["revision"] == "Rev B"
    status, second = await send(client, "POST", "/api/v1/reviews", team.headers["designer"],
                                {"entity_type": "shop_drawing", "entity_id": drawing})
    assert status == 201, second
    status, second = await _respond(client, team, "project_manager", second["tasks"][0],
                                    "approved")
    assert await _drawing_status(client, team, drawing) == "approved"
    status, listed = await send(client, "GET",
                                f"/api/v1/reviews?entity_type=shop_drawing&entity_id={drawing}",
                                team.headers["designer"])
    assert [r["result"] for r in listed["data"]] == ["approved", "revise_and_resubmit"]
    # A project's reviews (the console's list), of a status; a record or a project, not both.
    base = f"/api/v1/reviews?project_id={team.project}"
    status, mine = await send(client, "GET", base, team.headers["designer"])
    assert status == 200 and [r["id"] for r in mine["data"]] == [
        r["id"] for r in listed["data"]]
    status, done = await send(client, "GET", f"{base}&status=in_progress",
                              team.headers["designer"])
    assert status == 200 and done["data"] == []
    for query in ("", f"?project_id={team.project}&entity_type=shop_drawing&entity_id={drawing}",
                  f"?project_id={team.project}&entity_type=shop_drawing",
                  f"?entity_id={drawing}", f"{base[len('/api/v1/reviews'):]}&status=open"):
        status, problem = await send(client, "GET", f"/api/v1/reviews{query}",
                                     team.headers["designer"])
        assert status == 422, (query, problem)
    status, _ = await send(client, "GET", base, team.headers["stranger"])
    assert status == 404
    async with system_transaction(world.pool) as conn:
        revisions = await conn.fetch(
            "SELECT details FROM audit_logs WHERE table_name = 'shop_drawings' "
            "AND action = 'transition' AND record_id::text = $1 "
            "AND details ? 'review_id' ORDER BY id", drawing)
    assert [(r["details"]["action"], r["details"]["revision"]) for r in revisions] == [
        ("start_review", "Rev A"), ("request_revision", "Rev A"),
        ("start_review", "Rev B"), ("approve", "Rev B")]


async def test_material_spec_default_review(client: Client, world: World) -> None:
    team = await make_team(world, client)
    status, spec = await send(client, "POST", "/api/v1/material-specs", team.headers["designer"],
                              {"project_id": str(team.project), "description": "Oak veneer"})
    assert status == 201, spec
    status, problem = await send(client, "POST", "/api/v1/reviews", team.headers["designer"],
                                 {"entity_type": "material_spec", "entity_id": spec["id"]})
    assert status == 409 and problem["code"] == "illegal_transition"  # pending: not submitted
    status, spec = await send(client, "POST", f"/api/v1/material-specs/{spec['id']}/transitions",
                              team.headers["designer"], {"action": "submit"})
    assert status == 200, spec
    status, review = await send(client, "POST", "/api/v1/reviews", team.headers["designer"],
                                {"entity_type": "material_spec", "entity_id": spec["id"]})
    assert status == 201, review
    status, review = await _respond(client, team, "project_manager", review["tasks"][0],
                                    "revision_required", "thicker veneer")
    assert review["result_status"] == "revision_required"
    status, spec = await send(client, "GET", f"/api/v1/material-specs/{spec['id']}",
                              team.headers["designer"])
    assert spec["status"] == "revision_required"


async def test_templates_are_edited_and_deleted(client: Client, world: World) -> None:
    """PATCH with If-Match (running reviews keep their copy); DELETE refused (409) while a
    review started from the template runs; bad input writes nothing; others see 404."""
    team = await make_team(world, client)
    pm = team.headers["project_manager"]
    steps = [{"name": "Check", "rule": "any", "days": 2,
              "reviewers": [{"kind": "role", "ref": "project_manager"}]}]
    template = await _template(client, team, steps)
    path = f"/api/v1/review-templates/{template}"
    status, row = await send(client, "GET", path, pm)
    assert status == 200 and row["version"] == 1, row
    drawing = await _drawing(client, team)
    review = await _start(client, team, drawing, template)
    for body, field in (({"name": ""}, "name"), ({"name": None}, "name"),
                        ({"steps": []}, "steps"),
                        ({"outcomes": [{"label": "ok", "status": "nonsense"}]}, "outcomes"),
                        ({"steps": [{**steps[0], "reviewers": [{"kind": "user",
                                                                "ref": "nobody"}]}]}, "steps"),
                        ({"steps": [{**steps[0], "reviewers": [
                            {"kind": "user", "ref": str(team.users["stranger"]["id"])}]}]},
                         "steps"),
                        ({"colour": "red"}, "colour")):
        status, problem = await send(client, "PATCH", path, pm, body)
        assert status == 422, (body, problem)
        assert any(e["field"].startswith(field) for e in problem["errors"]), (body, problem)
    for who, expected in (("designer", 403), ("stranger", 404), ("client", 403)):
        status, _ = await send(client, "PATCH", path, team.headers[who], {"name": "X"})
        assert status == expected, who
        status, _ = await send(client, "DELETE", path, team.headers[who])
        assert status == expected, who
    status, problem = await send(client, "PATCH", path, pm, {"name": "Stale"}, If_Match='"7"')
    assert status == 412 and problem["current_version"] == 1
    status, row = await send(client, "GET", path, pm)
    assert row["version"] == 1 and row["name"] == "Submittal"  # nothing written
    two_steps = [*steps, {"name": "Sign-off", "rule": "all", "days": 1,
                          "reviewers": [{"kind": "user",
                                         "ref": str(team.users["coordinator"]["id"])}]}]
    status, row = await send(client, "PATCH", path, pm, {"name": "Two-step", "steps": two_steps},
                             If_Match='"1"')
    assert status == 200 and row["version"] == 2 and len(row["steps"]) == 2, row
    assert row["outcomes"] == OUTCOMES
    status, running = await send(client, "GET", f"/api/v1/reviews/{review['id']}", pm)
    assert len(running["steps"]) == 1  # the running review keeps its copy
    status, problem = await send(client, "DELETE", path, pm)
    assert status == 409 and problem["code"] == "template_in_use", problem
    assert problem["review_ids"] == [review["id"]]
    status, _ = await send(client, "POST", f"/api/v1/reviews/{review['id']}/terminate",
                           team.headers["designer"], {"comment": "superseded"})
    assert status == 200
    status, problem = await send(client, "DELETE", path, pm, If_Match='"1"')
    assert status == 412
    status, _ = await send(client, "DELETE", path, pm, If_Match='"2"')
    assert status == 204
    status, _ = await send(client, "GET", path, pm)
    assert status == 404
    status, finished = await send(client, "GET", f"/api/v1/reviews/{review['id']}", pm)
    assert finished["template_id"] is None and finished["name"] == "Submittal"
