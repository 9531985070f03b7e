"""The project logs over HTTP: the submittal log (shop drawings and material specs with
their review and ball in court) and the RFI log; filters, bad input, who may read them,
exports, one statement per page and the plan on 10,000 records."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from db.pool import system_transaction, transaction
from server.keys import POOL
from tests.conftest import World, actor_of
from tests.server.api import counting_statements
from tests.server.project_team import Team, make_team, send

Client = TestClient[Any, Any]
OUTCOMES = [{"label": "rejected", "status": "rejected"},
            {"label": "revise_and_resubmit", "status": "revise_and_resubmit"},
            {"label": "approved", "status": "approved"}]


def _log(team: Team, which: str = "submittal-log") -> str:
    return f"/api/v1/projects/{team.project}/{which}"


async def _post(client: Client, team: Team, who: str, path: str, body: Any) -> Any:
    status, out = await send(client, "POST", path, team.headers[who], body)
    assert status in (200, 201), out
    return out


async def _submittals(client: Client, team: Team) -> dict[str, Any]:
    """A drawing under a two-reviewer review, a drawing in draft, a spec pending approval,
    an approved spec."""
    designer = str(team.users["designer"]["id"])
    template = await _post(client, team, "project_manager", "/api/v1/review-templates", {
        "project_id": str(team.project), "name": "Submittal", "outcomes": OUTCOMES,
        "steps": [{"name": "Design check", "rule": "all", "days": 3, "reviewers": [
            {"kind": "user", "ref": designer},
            {"kind": "role", "ref": "project_manager"},
            {"kind": "client", "ref": str(team.users["client"]["client_id"])}]}]})
    reviewed = await _post(client, team, "designer", "/api/v1/shop-drawings", {
        "project_id": str(team.project), "drawing_number": "AK-001", "title": "Reception"})
    await _post(client, team, "designer", f"/api/v1/shop-drawings/{reviewed['id']}/transitions",
                {"action": "submit"})
    review = await _post(client, team, "designer", "/api/v1/reviews", {
        "entity_type": "shop_drawing", "entity_id": reviewed["id"], "template_id": template["id"]})
    draft = await _post(client, team, "designer", "/api/v1/shop-drawings", {
        "project_id": str(team.project), "drawing_number": "AK-002", "title": "Bar"})
    pending = await _post(client, team, "designer", "/api/v1/material-specs", {
        "project_id": str(team.project), "code": "MS-01", "description": "Oak veneer",
        "quantity": "10", "unit_cost": "55.00"})
    await _post(client, team, "designer", f"/api/v1/material-specs/{pending['id']}/transitions",
                {"action": "submit"})
    approved = await _post(client, team, "designer", "/api/v1/material-specs", {
        "project_id": str(team.project), "code": "MS-02", "description": "Brass trim"})
    await _post(client, team, "designer", f"/api/v1/material-specs/{approved['id']}/transitions",
                {"action": "submit"})
    await _post(client, team, "project_manager",
                f"/api/v1/material-specs/{approved['id']}/transitions", {"action": "approve"})
    return {"reviewed": reviewed["id"], "review": review, "draft": draft["id"],
            "pending": pending["id"], "approved": approved["id"]}


async def test_submittal_log_rows_and_filters(client: Client, world: World) -> None:
    team = await make_team(world, client)
    made = await _submittals(client, team)
    pm, designer = team.headers["project_manager"], team.headers["designer"]
    status, log = await send(client, "GET", _log(team), pm)
    assert status == 200 and log["next_cursor"] is None, log
    rows = {r["id"]: r for r in log["data"]}
    assert [r["number"] for r in log["data"]] == ["AK-001", "AK-002", "MS-01", "MS-02"]
    reviewed = rows[made["reviewed"]]
    assert reviewed["kind"] == "shop_drawing" and reviewed["status"] == "in_review"
    assert reviewed["review_id"] == made["review"]["id"]
    assert reviewed["review_status"] == "in_progress" and reviewed["review_step"] == 0
    assert reviewed["review_step_name"] == "Design check" and reviewed["review_steps"] == 1
    assert reviewed["review_outcomes"] == [] and reviewed["ball_in_court_party"] == "review"
    assert {(h["kind"], h["ref"]) for h in reviewed["ball_in_court"]} == {
        ("user", str(team.users["designer"]["id"])), ("role", "project_manager"),
        ("client", str(team.users["client"]["client_id"]))}
    due = made["review"]["tasks"][0]["due_on"]
    assert reviewed["due_on"] == due and reviewed["overdue"] is False
    assert reviewed["days_open"] == 0 and reviewed["days_overdue"] == 0
    draft = rows[made["draft"]]
    assert draft["ball_in_court_party"] == "submitter" and draft["review_id"] is None
    assert draft["ball_in_court"][0]["ref"] == str(team.users["designer"]["id"])
    pending = rows[made["pending"]]
    assert pending["kind"] == "material_spec" and pending["revision"] is None
    assert pending["ball_in_court_party"] == "reviewer"
    assert pending["ball_in_court"][0]["ref"] == str(team.users["project_manager"]["id"])
    assert rows[made["approved"]]["ball_in_court"] == []
    assert rows[made["approved"]]["closed_at"] is not None
    assert not {"unit_cost", "total_cost"} & set(pending)

    async def ids(query: str, who: dict[str, str] = pm) -> list[str]:
        status, body = await send(client, "GET", f"{_log(team)}?{query}", who)
        assert status == 200, body
        return [r["id"] for r in body["data"]]

    assert await ids("kind=material_spec") == [made["pending"], made["approved"]]
    assert await ids("status=draft") == [made["draft"]]
    # The project manager holds the reviewed drawing (by role) and the pending spec; the
    # designer the reviewed drawing (by name) and the draft; the craftsman nothing.
    assert await ids(f"ball_in_court={team.users['project_manager']['id']}") == [
        made["reviewed"], made["pending"]]
    assert await ids(f"ball_in_court={team.users['designer']['id']}") == [
        made["reviewed"], made["draft"]]
    assert await ids(f"ball_in_court={team.users['craftsman']['id']}") == []
    # The client company's user holds it too (by company), also in its own eyes.
    assert await ids(f"ball_in_court={team.users['client']['id']}") == [made["reviewed"]]
    assert await ids(f"ball_in_court={team.users['client']['id']}",
                     team.headers["client"]) == [made["reviewed"]]
    assert await ids("overdue=true") == []
    async with system_transaction(world.pool) as conn:
        await conn.execute("UPDATE review_tasks SET due_on = $2 WHERE review_id = $1",
                           made["review"]["id"], dt.date(2020, 1, 1))
    assert await ids("overdue=true") == [made["reviewed"]]
    status, log = await send(client, "GET", f"{_log(team)}?overdue=true", pm)
    late = log["data"][0]
    assert late["overdue"] is True and late["days_overdue"] > 1000 and late["days_open"] == 0
    # Pages in both sort orders, without gaps or repeats.
    for sort in ("number", "-number", "created_at", "-created_at"):
        seen: list[str] = []
        cursor = ""
        while True:
            status, body = await send(client, "GET",
                                      f"{_log(team)}?limit=1&sort={sort}{cursor}", designer)
            assert status == 200, body
            seen += [r["id"] for r in body["data"]]
            if body["next_cursor"] is None:
                break
            cursor = f"&cursor={body['next_cursor']}"
        assert sorted(seen) == sorted(rows), sort


async def test_submittal_log_bad_input_and_who_may_read(client: Client, world: World) -> None:
    team = await make_team(world, client)
    await _submittals(client, team)
    pm = team.headers["project_manager"]
    for query, field in (("kind=task", "kind"), ("status=lost", "status"),
                         ("ball_in_court=nobody", "ball_in_court"), ("overdue=maybe", "overdue"),
                         ("sort=title", "sort"), ("limit=201", "limit"),
                         ("cursor=%21%21", "cursor")):
        status, problem = await send(client, "GET", f"{_log(team)}?{query}", pm)
        assert status == 422, (query, problem)
        assert field in {e["field"] for e in problem["errors"]}, (query, problem)
    status, problem = await send(client, "GET", "/api/v1/projects/not-a-uuid/submittal-log", pm)
    assert status in (404, 422), problem
    for which in ("submittal-log", "rfi-log"):
        for outsider in ("outsider", "stranger"):
            status, problem = await send(client, "GET", _log(team, which),
                                         team.headers[outsider])
            assert status == 404, (which, outsider, problem)
            status, _ = await send(client, "GET", f"{_log(team, which)}?format=csv",
                                   team.headers[outsider])
            assert status == 404
    # A client user of the project reads the log without any internal field.
    status, log = await send(client, "GET", _log(team), team.headers["client"])
    assert status == 200, log
    for row in log["data"]:
        assert not {"unit_cost", "total_cost", "budget"} & set(row)


async def test_submittal_log_exports(client: Client, world: World) -> None:
    team = await make_team(world, client)
    await _submittals(client, team)
    response = await client.get(f"{_log(team)}?format=csv&kind=shop_drawing",
                                headers=team.headers["project_manager"])
    assert response.status == 200, await response.text()
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [r["number"] for r in rows] == ["AK-001", "AK-002"]
    assert {"kind", "ball_in_court", "days_open", "overdue"} <= set(rows[0])
    response = await client.get(f"{_log(team, 'rfi-log')}?format=xlsx",
                                headers=team.headers["client"])
    assert response.status == 200


async def test_rfi_log(client: Client, world: World) -> None:
    team = await make_team(world, client)
    coordinator = str(team.users["coordinator"]["id"])
    made = []
    for subject in ("Ceiling height", "Door hardware", "Stone joints"):
        made.append(await _post(client, team, "designer", "/api/v1/rfis", {
            "project_id": str(team.project), "subject": subject, "question": "Which?",
            "distribution": [coordinator]}))
    first, second, _third = (r["id"] for r in made)
    for rfi in (first, second):
        await _post(client, team, "designer", f"/api/v1/rfis/{rfi}/transitions",
                    {"action": "open"})
    answered = await _post(client, team, "coordinator", f"/api/v1/rfis/{second}/responses",
                           {"body": "Satin brass"})
    await _post(client, team, "designer",
                f"/api/v1/rfis/{second}/responses/{answered['responses'][0]['id']}/official", None)
    status, log = await send(client, "GET", _log(team, "rfi-log"), team.headers["designer"])
    assert status == 200, log
    assert [r["number"] for r in log["data"]] == ["RFI-001", "RFI-002", "RFI-003"]
    by_id = {r["id"]: r for r in log["data"]}
    assert by_id[first]["ball_in_court"] == [coordinator] and by_id[first]["due_on"]
    assert by_id[first]["official_answer_on"] is None and by_id[first]["overdue"] is False
    assert by_id[second]["status"] == "answered"
    assert by_id[second]["ball_in_court"] == [str(team.users["designer"]["id"])]
    assert by_id[second]["official_answer_on"] == dt.datetime.now(dt.UTC).date().isoformat()
    assert by_id[second]["official_answer_at"] is not None

    async def ids(query: str) -> list[str]:
        status, body = await send(client, "GET", f"{_log(team, 'rfi-log')}?{query}",
                                  team.headers["designer"])
        assert status == 200, body
        return [r["id"] for r in body["data"]]

    assert await ids("status=draft") == [made[2]["id"]]
    assert await ids(f"ball_in_court={coordinator}") == [first]
    assert await ids("sort=-number") == [made[2]["id"], second, first]
    assert await ids("overdue=true") == []
    async with system_transaction(world.pool) as conn:
        await conn.execute("UPDATE rfis SET due_on = $2 WHERE id = $1", first,
                           dt.date.today() - dt.timedelta(days=30))
    assert await ids("overdue=true") == [first]
    for query in ("status=lost", "ball_in_court=1", "sort=subject", "overdue=2"):
        status, problem = await send(client, "GET", f"{_log(team, 'rfi-log')}?{query}",
                                     team.headers["designer"])
        assert status == 422, (query, problem)
    # The client user is on no distribution list: an empty log, not an error.
    status, log = await send(client, "GET", _log(team, "rfi-log"), team.headers["client"])
    assert status == 200 and log["data"] == []


async def _bulk(pool: asyncpg.Pool, team: Team, count: int) -> None:
    """`count` drawings and `count` specs (a fifth of the drawings under review) and `count`
    RFIs, with triggers off (a test fixture, not an application path)."""
    org, project = team.org, team.project
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(
            """INSERT INTO shop_drawings (org_id, project_id, drawing_number, title, status,
                                          created_at)
               SELECT $1, $2, 'D-' || lpad(n::text, 6, '0'), 'Drawing ' || n,
                      CASE WHEN n % 5 = 0 THEN 'in_review' ELSE 'draft' END,
                      now() - n * interval '1 minute'
               FROM generate_series(1, $3) AS n""", org, project, count)
        await conn.execute(
            """INSERT INTO material_specs (org_id, project_id, code, description, status)
               SELECT $1, $2, CASE WHEN n % 7 = 0 THEN NULL ELSE 'M-' || n END,
                      'Spec ' || n, 'pending_approval'
               FROM generate_series(1, $3) AS n""", org, project, count)
        await conn.execute(
            """INSERT INTO reviews (org_id, project_id, entity_type, entity_id, name, outcomes,
                                    steps, started_on)
               SELECT org_id, project_id, 'shop_drawing', id, 'Bulk', '[]',
                      '[{"name": "Check"}]', current_date
               FROM shop_drawings WHERE project_id = $1 AND status = 'in_review'""", project)
        await conn.execute(
            """INSERT INTO review_tasks (org_id, project_id, review_id, step, reviewer_kind,
                                         reviewer_ref, due_on)
               SELECT org_id, project_id, id, 0, 'role', 'project_manager',
                      current_date - (random() * 20)::int
               FROM reviews WHERE project_id = $1""", project)
        await conn.execute(
            """INSERT INTO rfis (org_id, project_id, seq, number, subject, question, status,
                                 due_on, distribution)
               SELECT $1, $2, n, 'RFI-' || lpad(n::text, 3, '0'), 'Subject ' || n, 'Q',
                      'open', current_date - n % 30, ARRAY[$4::uuid]
               FROM generate_series(1, $3) AS n""", org, project, count,
            team.users["coordinator"]["id"])
    async with pool.acquire() as conn:
        for table in ("shop_drawings", "material_specs", "reviews", "review_tasks", "rfis"):
            await conn.execute(f"ANALYZE {table}")


async def _plan(pool: asyncpg.Pool, team: Team, sql: str, args: list[Any]) -> str:
    async with transaction(pool, actor_of(team.users["project_manager"])) as conn:
        return "\n".join(r[0] for r in await conn.fetch("EXPLAIN " + sql, *args))


def _per_row_seq_scans(plan: str) -> list[str]:
    """The plan's sequential scans but those of a hashed subplan (row-level security's
    `id IN (SELECT ...)` of a client user's policy, built once per statement)."""
    lines = plan.splitlines()
    found = []
    for i, line in enumerate(lines):
        if "Seq Scan" not in line:
            continue
        depth = len(line) - len(line.lstrip())
        owner = next((above.strip() for above in reversed(lines[:i])
                      if len(above) - len(above.lstrip()) < depth
                      and above.strip().startswith("SubPlan")), None)
        if owner is None or f"hashed {owner}" not in plan:
            found.append(line.strip())
    return found


async def test_10k_records_one_statement_per_page_on_the_indexes(
    client: Client, world: World, pool: asyncpg.Pool,
) -> None:
    team = await make_team(world, client)
    await _bulk(pool, team, 5_000)
    pm = team.headers["project_manager"]
    await send(client, "GET", _log(team), pm)  # warm the session cache
    pm_id = team.users["project_manager"]["id"]
    cases = {"submittal-log": ("", "kind=shop_drawing", "overdue=true",
                               f"ball_in_court={pm_id}", "sort=-created_at"),
             "rfi-log": ("", "overdue=true", f"ball_in_court={team.users['coordinator']['id']}",
                         "sort=-due_on")}
    async with counting_statements(client.app[POOL]) as counter:
        for which, queries in cases.items():
            for query in queries:
                per_request = []
                for limit in (10, 10, 200):  # the first one warms up the connection's types
                    counter.reset()
                    started = time.perf_counter()
                    status, body = await send(client, "GET",
                                              f"{_log(team, which)}?limit={limit}&{query}", pm)
                    elapsed = time.perf_counter() - started
                    assert status == 200 and len(body["data"]) == limit, (which, query, body)
                    assert body["next_cursor"], (which, query)
                    per_request.append(len(counter.queries))
                    assert elapsed < 2.0, (which, query, elapsed)
                # BEGIN, actor settings, the project's calendar, the page, COMMIT.
                assert per_request[1] == per_request[2] <= 5, (
                    per_request, [q.strip()[:70] for q in counter.queries])
                page_sql = [q for q in counter.queries
                            if "LIMIT" in q and ("shop_drawings" in q or "FROM rfis" in q)]
                assert len(page_sql) == 1, counter.queries
                args: list[Any] = [team.project]
                if "ball_in_court" in query:
                    args.append(query.split("=")[1])
                elif "overdue" in query:
                    args.append(dt.date.today())
                elif "kind" in query:
                    args.append("shop_drawing")
                plan = await _plan(pool, team, page_sql[0], args)
                assert not _per_row_seq_scans(plan), (which, query, plan)
                if which == "submittal-log":
                    assert "Merge Append" in plan or "kind" in query, plan
                    assert "ix_reviews_entity_type_entity_id_created_at" in plan, plan
                    assert "ix_review_tasks_review_id_step" in plan, plan
                else:
                    index = "due_on" if "due_on" in query else "seq"
                    assert f"ix_rfis_project_id_{index}_id" in plan, plan
    # Every page of the whole log, following the cursors.
    started = time.perf_counter()
    seen: set[str] = set()
    cursor = ""
    while True:
        status, body = await send(client, "GET", f"{_log(team)}?limit=200{cursor}", pm)
        seen |= {r["id"] for r in body["data"]}
        if not body["next_cursor"]:
            break
        cursor = f"&cursor={body['next_cursor']}"
    print(f"\nsubmittal log, 10,000 records in pages of 200: "
          f"{time.perf_counter() - started:.2f}s")
    assert len(seen) == 10_000
