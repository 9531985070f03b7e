"""The procurement schedule and scope readiness over HTTP: order-by / submit-by in the
organisation's working days, each at-risk rule switching on and off as dates, states and
the calendar day change, exactly one notification and one live event per flip, delivery
status beside the workflow, readiness flipping live, who sees what, and statement counts
that do not grow with the page."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from db.pool import system_transaction
from rules.calendar import make_calendar
from rules.procurement import schedule
from server.keys import POOL
from server.procurement import check
from tests.conftest import World
from tests.realtime.conftest import Sock
from tests.server.api import counting_statements
from tests.server.project_team import Team, make_team, send

Client = TestClient[Any, Any]
SPECS = "/api/v1/material-specs"


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), dt.UTC)


async def _spec(client: Client, team: Team, who: str = "designer", **fields: Any) -> Any:
    body = {"project_id": str(team.project), "description": "Walnut veneer, 0.6 mm",
            "code": f"MS-{uuid.uuid4().hex[:5]}"} | fields
    status, spec = await send(client, "POST", SPECS, team.headers[who], body)
    assert status == 201, spec
    return spec


async def _act(client: Client, team: Team, spec: Any, action: str, who: str = "project_manager",
               **more: Any) -> Any:
    status, spec = await send(client, "POST", f"{SPECS}/{spec['id']}/transitions",
                              team.headers[who], {"action": action, **more})
    assert status == 200, spec
    return spec


async def _deliver(client: Client, team: Team, spec: Any, **body: Any) -> tuple[int, Any]:
    return await send(client, "POST", f"{SPECS}/{spec['id']}/delivery",
                      team.headers["coordinator"], body)


async def _risk_notes(world: World, spec: Any) -> list[dict[str, Any]]:
    async with system_transaction(world.pool) as conn:
        rows = await conn.fetch(
            "SELECT user_id, data FROM notifications WHERE type = 'procurement_risk' "
            "AND data->>'entity_id' = $1 ORDER BY created_at, id", spec["id"])
    return [{"user_id": r["user_id"], **r["data"]} for r in rows]


async def test_schedule_dates_in_working_days_of_the_organisation(client: Client,
                                                                  world: World) -> None:
    team = await make_team(world, client)
    on_site = _today() + dt.timedelta(days=60)
    holidays = [on_site - dt.timedelta(days=d) for d in (10, 11, 12, 13)]
    status, _ = await send(client, "PUT", "/api/v1/calendar", team.headers["admin"], {
        "time_zone": "Europe/Istanbul", "holidays": [h.isoformat() for h in holidays]})
    assert status == 200, _
    cal = make_calendar("Europe/Istanbul", (1, 2, 3, 4, 5), holidays)
    made = []
    for lead, design, internal in ((7, 3, 2), (8, 0, 0), (9, 5, None), (12, 1, 1)):
        made.append(await _spec(client, team, required_on_site=on_site.isoformat(),
                                lead_time_days=lead, design_review_days=design,
                                **({"internal_review_days": internal} if internal else {})))
    await _spec(client, team)  # no schedule: listed last, without dates
    status, page = await send(client, "GET", f"/api/v1/projects/{team.project}/procurement",
                              team.headers["client"])
    assert status == 200, page
    assert len(page["data"]) == 5 and page["data"][-1]["order_by"] is None
    for row in page["data"][:4]:
        plan = schedule(cal, on_site, row["lead_time_days"], row["design_review_days"],
                        row["internal_review_days"])
        assert row["order_by"] == plan.order_by.isoformat()  # type: ignore[union-attr]
        assert row["submit_by"] == plan.submit_by.isoformat()  # type: ignore[union-attr]
        assert dt.date.fromisoformat(row["submit_by"]).isoweekday() <= 5
        assert dt.date.fromisoformat(row["submit_by"]) not in holidays
        assert "unit_cost" not in row
    # Bad input: a clear 422 naming the field, nothing written.
    async with system_transaction(world.pool) as conn:
        before = await conn.fetchval("SELECT count(*) FROM material_specs")
    for fields, field in (({"lead_time_days": -3}, "lead_time_days"),
                          ({"design_review_days": -1}, "design_review_days"),
                          ({"internal_review_days": 4000}, "internal_review_days"),
                          ({"required_on_site": "2026-13-01"}, "required_on_site"),
                          ({"required_on_site": "1900-01-01"}, "required_on_site"),
                          ({"lead_time_days": "5"}, "lead_time_days")):
        status, problem = await send(client, "POST", SPECS, team.headers["designer"], {
            "project_id": str(team.project), "description": "x", **fields})
        assert status == 422, (fields, problem)
        assert problem["errors"][0]["field"] == field, problem
        status, problem = await send(client, "PATCH", f"{SPECS}/{made[0]['id']}",
                                     team.headers["designer"], fields)
        assert status == 422 and problem["errors"][0]["field"] == field, problem
    async with system_transaction(world.pool) as conn:
        assert await conn.fetchval("SELECT count(*) FROM material_specs") == before
    # Exportable, with the derived dates.
    response = await client.get(f"/api/v1/projects/{team.project}/procurement?format=csv",
                                headers=team.headers["designer"])
    text = await response.text()
    assert response.status == 200 and "submit_by" in text.splitlines()[0]
    assert text.count(made[0]["code"]) == 1
    for who in ("outsider", "stranger"):
        status, _ = await send(client, "GET", f"/api/v1/projects/{team.project}/procurement",
                               team.headers[who])
        assert status == 404


async def test_each_rule_flips_with_states_once_per_change(client: Client,
                                                           world: World) -> None:
    """Writes flip the flags: one notification to the project manager per change."""
    team = await make_team(world, client)
    today = _today()
    manager = team.users["project_manager"]["id"]
    # On site yesterday, no lead time: order-by and submit-by are past.
    spec = await _spec(client, team, required_on_site=(today - dt.timedelta(days=1)).isoformat(),
                       lead_time_days=0)
    assert spec["risk_reasons"] == ["submit_overdue", "order_overdue"] and spec["at_risk"]
    spec = await _act(client, team, spec, "submit", who="designer")
    assert spec["risk_reasons"] == ["submit_overdue", "order_overdue"]
    spec = await _act(client, team, spec, "approve")
    assert spec["risk_reasons"] == ["order_overdue"]
    # Not received before it is ordered: 409, nothing written.
    status, problem = await _deliver(client, team, spec, delivery_status="received")
    assert status == 409 and problem["code"] == "not_ordered"
    spec = await _act(client, team, spec, "order", who="coordinator")
    assert spec["risk_reasons"] == [] and not spec["at_risk"]
    status, spec = await _deliver(client, team, spec, delivery_status="shipped",
                                  expected_delivery_on=(today + dt.timedelta(days=3)).isoformat())
    assert status == 200 and spec["risk_reasons"] == ["delivery_late"], spec
    assert spec["shipped_on"] == today.isoformat()
    status, problem = await _deliver(client, team, spec, delivery_status="in_fabrication")
    assert status == 409 and problem["code"] == "delivery_status_backwards"
    status, problem = await _deliver(client, team, spec, delivery_status="delivered",
                                     on=(today + dt.timedelta(days=1)).isoformat())
    assert status == 422
    status, spec = await _deliver(client, team, spec, delivery_status="delivered")
    assert status == 200 and spec["risk_reasons"] == [] and spec["delivery_status"] == "delivered"
    # A change that flips nothing tells nobody.
    status, spec = await send(client, "PATCH", f"{SPECS}/{spec['id']}", team.headers["designer"],
                              {"notes": "on pallets, gate 2"})
    assert status == 200
    notes = await _risk_notes(world, spec)
    assert [n["risk_reasons"] for n in notes] == [
        ["submit_overdue", "order_overdue"], ["order_overdue"], [], ["delivery_late"], []]
    assert {n["user_id"] for n in notes} == {manager}
    assert notes[1]["cleared"] == ["submit_overdue"] and notes[3]["raised"] == ["delivery_late"]
    # Returned for revision: the delivery status goes, the workflow never contradicted.
    spec = await _act(client, team, spec, "request_revision", comment="wrong veneer delivered")
    assert spec["status"] == "revision_required" and spec["delivery_status"] is None
    assert spec["risk_reasons"] == ["submit_overdue", "order_overdue"]
    assert len(await _risk_notes(world, spec)) == 6


async def test_the_day_passing_flips_flags_once_with_an_event(client: Client,
                                                              world: World) -> None:
    """No write: the periodic check sees the date move on, and a second check (or a
    concurrent one) flips nothing again."""
    team = await make_team(world, client)
    today = _today()
    spec = await _spec(client, team, required_on_site=(today + dt.timedelta(days=40)).isoformat(),
                       lead_time_days=10, design_review_days=5, internal_review_days=5)
    quiet = await _spec(client, team)
    assert spec["risk_reasons"] == []
    sock = Sock()
    try:
        token = team.headers["designer"]["Authorization"].split()[1]
        await sock.connect(f"http://127.0.0.1:{client.server.port}", token)
        assert (await sock.call("subscribe", {"project_id": str(team.project)}))["ok"]
        later = _at(today + dt.timedelta(days=35))
        reports = [await check(client.app, now=later) for _ in range(2)]
        assert reports[0].flipped == 1 and reports[1].flipped == 0
        notes = await _risk_notes(world, spec)
        assert [n["risk_reasons"] for n in notes] == [["submit_overdue", "order_overdue"]]

        def flips() -> list[Any]:
            return [e for e in sock.named("material_spec.updated")
                    if e["record_id"] == spec["id"] and "at_risk" in e["changed_fields"]]

        await sock.wait_for(lambda: len(flips()) == 1)
        assert flips()[0]["data"]["risk_reasons"] == ["submit_overdue", "order_overdue"]
        # Back to today: the flags clear, once.
        assert (await check(client.app)).flipped == 1
        assert (await check(client.app)).flipped == 0
        await sock.wait_for(lambda: len(flips()) == 2)
        assert [n["risk_reasons"] for n in await _risk_notes(world, spec)] == [
            ["submit_overdue", "order_overdue"], []]
        assert await _risk_notes(world, quiet) == []
    finally:
        await sock.close()
    async with system_transaction(world.pool) as conn:
        who = await conn.fetch("SELECT DISTINCT user_id FROM notifications "
                               "WHERE type = 'procurement_risk'")
    assert {r["user_id"] for r in who} == {team.users["project_manager"]["id"]}


async def _linked_item(client: Client, team: Team) -> tuple[str, Any, Any]:
    pm = team.headers["project_manager"]
    status, group = await send(client, "POST", "/api/v1/scope-groups", pm,
                               {"project_id": str(team.project), "name": "Joinery"})
    assert status == 201, group
    status, item = await send(client, "POST", "/api/v1/scope-items", pm, {
        "project_id": str(team.project), "scope_group_id": group["id"], "name": "Desk"})
    assert status == 201, item
    status, drawing = await send(client, "POST", "/api/v1/shop-drawings",
                                 team.headers["designer"], {
                                     "project_id": str(team.project), "drawing_number": "SD-1",
                                     "title": "Desk", "scope_item_ids": [item["id"]]})
    assert status == 201, drawing
    spec = await _spec(client, team, scope_item_ids=[item["id"]])
    return item["id"], drawing, spec


async def test_readiness_flips_live_when_the_last_drawing_is_approved_and_back(
        client: Client, world: World) -> None:
    team = await make_team(world, client)
    item, drawing, spec = await _linked_item(client, team)
    url = f"/api/v1/projects/{team.project}/readiness"
    status, page = await send(client, "GET", url, team.headers["craftsman"])
    assert status == 200, page
    (row,) = page["data"]
    assert row["readiness"] == "blocked" and not row["ready"]
    assert {(b["type"], b["id"]) for b in row["blocking"]} == {
        ("shop_drawing", drawing["id"]), ("material_spec", spec["id"])}
    assert page["summary"] == {"items": 1, "ready": 0, "share_ready": 0.0}
    for action in ("submit", "approve"):
        spec = await _act(client, team, spec, action)
    spec = await _act(client, team, spec, "order")
    status, spec = await _deliver(client, team, spec, delivery_status="delivered")
    assert status == 200
    status, page = await send(client, "GET", url, team.headers["craftsman"])
    assert [b["id"] for b in page["data"][0]["blocking"]] == [drawing["id"]]
    sock = Sock()
    try:
        token = team.headers["craftsman"]["Authorization"].split()[1]
        await sock.connect(f"http://127.0.0.1:{client.server.port}", token)
        assert (await sock.call("subscribe", {"project_id": str(team.project)}))["ok"]
        for action in ("submit", "start_review", "approve"):
            status, drawing = await send(
                client, "POST", f"/api/v1/shop-drawings/{drawing['id']}/transitions",
                team.headers["project_manager"], {"action": action})
            assert status == 200, drawing

        def flips() -> list[bool]:
            """The item's readiness flips seen since the drawing moved. A loaded leader may
            still deliver the flips of the item's set-up after the subscription (no links:
            ready; the drawing linked: blocked): only what follows the first flip to ready
            counts."""
            seen = [e["data"]["production_ready"] for e in sock.named("scope_item.updated")
                    if e["record_id"] == item and "production_ready" in e["changed_fields"]]
            return seen[seen.index(True):] if True in seen else []

        await sock.wait_for(lambda: len(flips()) == 1)
        status, page = await send(client, "GET", url, team.headers["craftsman"])
        assert page["data"][0]["readiness"] == "ready" and page["data"][0]["blocking"] == []
        assert page["summary"] == {"items": 1, "ready": 1, "share_ready": 1.0}
        spec = await _act(client, team, spec, "request_revision", comment="wrong species")
        await sock.wait_for(lambda: len(flips()) == 2)
        assert flips() == [True, False]
        status, page = await send(client, "GET", f"{url}?ready=false", team.headers["craftsman"])
        (row,) = page["data"]
        assert row["readiness"] == "blocked"
        assert row["blocking"] == [{"type": "material_spec", "id": spec["id"],
                                    "code": spec["code"], "title": spec["description"],
                                    "status": "revision_required", "delivery_status": None}]
    finally:
        await sock.close()
    response = await client.get(f"{url}?format=csv", headers=team.headers["craftsman"])
    text = await response.text()
    assert response.status == 200 and "revision_required" in text and "blocked" in text
    for who in ("outsider", "stranger"):
        status, _ = await send(client, "GET", url, team.headers[who])
        assert status == 404


async def _bulk(world: World, team: Team, n: int) -> None:
    """n specs with schedules, n scope items each linked to a drawing and a spec."""
    today = _today()
    async with system_transaction(world.pool) as conn:
        group = await conn.fetchval("INSERT INTO scope_groups (org_id, project_id, name) "
                                    "VALUES ($1, $2, $3) RETURNING id", team.org, team.project,
                                    f"g{uuid.uuid4().hex[:6]}")
        for i in range(n):
            spec = await conn.fetchval(
                "INSERT INTO material_specs (org_id, project_id, description, "
                "required_on_site, lead_time_days, design_review_days) VALUES "
                "($1, $2, $3, $4, 20, 3) RETURNING id", team.org, team.project, f"spec {i}",
                today + dt.timedelta(days=i % 90))
            item = await conn.fetchval(
                "INSERT INTO scope_items (org_id, project_id, scope_group_id, name) "
                "VALUES ($1, $2, $3, $4) RETURNING id", team.org, team.project, group,
                f"item {i:05d}")
            drawing = await conn.fetchval(
                "INSERT INTO shop_drawings (org_id, project_id, drawing_number, title) "
                "VALUES ($1, $2, $3, 'x') RETURNING id", team.org, team.project,
                f"SD-{uuid.uuid4().hex[:8]}")
            for column, target in (("material_spec_id", spec), ("shop_drawing_id", drawing)):
                await conn.execute(
                    f"INSERT INTO item_links (org_id, project_id, scope_item_id, {column}) "  # noqa: S608 - two names
                    "VALUES ($1, $2, $3, $4)", team.org, team.project, item, target)


async def test_statement_counts_do_not_grow_with_the_page(client: Client, world: World) -> None:
    team = await make_team(world, client)
    counts: dict[str, list[int]] = {"procurement": [], "readiness": []}
    for n in (5, 60):
        await _bulk(world, team, n if not counts["readiness"] else n - 5)
        for name in counts:
            path = f"/api/v1/projects/{team.project}/{name}?limit=200"
            await send(client, "GET", path, team.headers["designer"])  # sessions, caches warm
            async with counting_statements(client.app[POOL]) as counter:
                status, page = await send(client, "GET", path, team.headers["designer"])
            assert status == 200 and len(page["data"]) == n, name
            # asyncpg's own type introspection on a connection new to a type is not ours.
            counts[name].append(len([q for q in counter.queries if "typeinfo_tree" not in q
                                     and "set_config('jit'" not in q]))
    for name, (small, large) in counts.items():
        assert small == large, (name, counts)
