"""Material specs over HTTP: CRUD, totals, the approval and procurement workflow by role."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from db.pool import system_transaction
from tests.conftest import World
from tests.server.project_team import Team, make_team, send

URL = "/api/v1/material-specs"


async def _spec(client: TestClient[Any, Any], team: Team, **fields: Any) -> dict[str, Any]:
    status, spec = await send(client, "POST", URL, team.headers["designer"], {
        "project_id": str(team.project), "description": "Oak veneer panel", **fields})
    assert status == 201, spec
    return dict(spec)


async def _step(client: TestClient[Any, Any], team: Team, who: str, spec_id: str, action: str,
                comment: str | None = None, **headers: str) -> tuple[int, Any]:
    body = {"action": action, **({"comment": comment} if comment is not None else {})}
    return await send(client, "POST", f"{URL}/{spec_id}/transitions", team.headers[who], body,
                      **headers)


async def test_crud_and_totals(client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    spec = await _spec(client, team, quantity="12.5", unit="sqm", unit_cost="85.99",
                       supplier_name="Kale Ahşap", specification={"thickness_mm": 18},
                       category="Millwork")
    assert spec["status"] == "pending" and spec["currency"] == "TRY"
    assert spec["total_cost"] == "1074.88" and spec["unit_cost"] == "85.99"
    assert spec["specification"] == {"thickness_mm": 18}
    assert spec["created_by"] == str(team.users["designer"]["id"])
    assert spec["allowed_actions"] == ["submit"]
    coord = team.headers["coordinator"]
    status, spec = await send(client, "PATCH", f"{URL}/{spec['id']}", coord,
                              {"unit_cost": "100", "currency": "EUR"}, If_Match='"1"')
    assert status == 200 and spec["total_cost"] == "1250.00" and spec["version"] == 2
    status, problem = await send(client, "PATCH", f"{URL}/{spec['id']}", coord,
                                 {"currency": "euro", "unit_cost": "1.001", "description": ""})
    assert status == 422
    assert {e["field"] for e in problem["errors"]} == {"currency", "unit_cost", "description"}
    await _spec(client, team, category="Stone")
    status, page = await send(client, "GET", f"{URL}?project_id={team.project}&category=Stone",
                              team.headers["client"])
    assert status == 200 and len(page["data"]) == 1
    assert page["data"][0]["allowed_actions"] == []
    for role in ("craftsman", "client"):
        status, _ = await send(client, "POST", URL, team.headers[role], {
            "project_id": str(team.project), "description": "x"})
        assert status == 403
    for who in ("outsider", "stranger"):
        status, _ = await send(client, "GET", f"{URL}/{spec['id']}", team.headers[who])
        assert status == 404
    status, _ = await send(client, "DELETE", f"{URL}/{spec['id']}", coord)
    assert status == 204


async def test_workflow_to_used(client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    sid = (await _spec(client, team))["id"]
    status, problem = await _step(client, team, "designer", sid, "approve")
    assert status == 403  # designers may not approve, whatever the state
    status, problem = await _step(client, team, "project_manager", sid, "approve")
    assert status == 409 and problem["allowed_actions"] == ["submit"]
    steps = [("designer", "submit", None), ("project_manager", "request_revision", "Fire class?"),
             ("coordinator", "submit", None), ("project_manager", "approve", None),
             ("coordinator", "order", None), ("designer", "receive", None),
             ("coordinator", "deliver", None), ("project_manager", "use", None)]
    for who, action, comment in steps:
        status, spec = await _step(client, team, who, sid, action, comment)
        assert status == 200, (action, spec)
        if action == "approve":
            assert spec["approved_by"] == str(team.users["project_manager"]["id"])
            assert spec["approved_at"]
    assert spec["status"] == "used" and spec["allowed_actions"] == []
    status, problem = await send(client, "DELETE", f"{URL}/{sid}", team.headers["admin"])
    assert status == 409
    async with system_transaction(world.pool) as conn:
        events = await conn.fetch("SELECT details FROM audit_logs WHERE record_id = $1 AND "
                                  "action = 'transition' ORDER BY id", uuid.UUID(sid))
    assert [e["details"]["to"] for e in events] == [
        "pending_approval", "revision_required", "pending_approval", "approved", "ordered",
        "in_stock", "delivered", "used"]
    assert events[1]["details"]["comment"] == "Fire class?"


async def test_decisions_need_comments_and_roles(client: TestClient[Any, Any],
                                                 world: World) -> None:
    team = await make_team(world, client)
    sid = (await _spec(client, team))["id"]
    status, _ = await _step(client, team, "craftsman", sid, "submit")
    assert status == 403
    status, _ = await _step(client, team, "client", sid, "submit")
    assert status == 403
    status, _ = await _step(client, team, "stranger", sid, "submit")
    assert status == 404
    status, _ = await _step(client, team, "designer", sid, "submit")
    assert status == 200
    for action in ("reject", "request_revision"):
        status, problem = await _step(client, team, "admin", sid, action)
        assert status == 422 and problem["errors"][0]["field"] == "comment"
    status, spec = await _step(client, team, "admin", sid, "reject", "Not to spec")
    assert status == 200 and spec["status"] == "rejected"


async def test_concurrent_approvals(client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    sid = (await _spec(client, team))["id"]
    _, spec = await _step(client, team, "designer", sid, "submit")
    version = f'"{spec["version"]}"'
    results = await asyncio.gather(
        _step(client, team, "project_manager", sid, "approve", If_Match=version),
        _step(client, team, "admin", sid, "reject", "No", If_Match=version))
    assert sorted(s for s, _ in results) == [200, 412]


async def _force(world: World, spec_id: str, status: str) -> None:
    async with system_transaction(world.pool) as conn:
        await conn.execute("UPDATE material_specs SET status = $1 WHERE id = $2", status,
                           uuid.UUID(spec_id))


EDITORS = ("designer", "coordinator", "project_manager", "admin")
COMMITTED = {"unit_cost": "10000000", "quantity": "999", "supplier_name": "Shell Co",
             "description": "Gold leaf", "currency": "USD"}


async def test_decided_spec_is_locked_for_every_role(client: TestClient[Any, Any],
                                                     world: World) -> None:
    team = await make_team(world, client)
    spec = await _spec(client, team, quantity="10", unit_cost="100", supplier_name="Kale")
    sid = spec["id"]
    await _step(client, team, "designer", sid, "submit")
    status, spec = await _step(client, team, "project_manager", sid, "approve")
    assert status == 200 and spec["total_cost"] == "1000.00"
    for state in ("approved", "ordered", "in_stock", "delivered", "used", "rejected"):
        await _force(world, sid, state)
        for who in EDITORS:
            for field, value in COMMITTED.items():
                status, problem = await send(client, "PATCH", f"{URL}/{sid}",
                                             team.headers[who], {field: value})
                assert status == 409, (state, who, field, problem)
                assert problem["code"] == "record_locked"
                assert problem["locked_fields"] == [field]
                assert problem["state"] == state and problem["status"] == 409
                assert "allowed_actions" in problem
        status, _ = await send(client, "PATCH", f"{URL}/{sid}", team.headers["craftsman"],
                               {"unit_cost": "1"})
        assert status == 403  # permission before state
    status, spec = await send(client, "GET", f"{URL}/{sid}", team.headers["admin"])
    assert (spec["unit_cost"], spec["quantity"], spec["total_cost"]) == (
        "100.00", "10.000", "1000.00")
    assert spec["supplier_name"] == "Kale" and spec["description"] == "Oak veneer panel"


async def test_decided_spec_keeps_notes_and_lead_time_editable(
        client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    spec = await _spec(client, team, quantity="10", unit_cost="100")
    await _force(world, spec["id"], "ordered")
    for who in EDITORS:
        status, changed = await send(client, "PATCH", f"{URL}/{spec['id']}",
                                     team.headers[who],
                                     {"notes": f"gate B ({who})", "lead_time_days": 30,
                                      "unit_cost": "100.00", "quantity": "10"})
        assert status == 200, (who, changed)  # committed values sent back unchanged pass
        assert changed["notes"] == f"gate B ({who})" and changed["unit_cost"] == "100.00"


async def test_open_spec_stays_editable(client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    sid = (await _spec(client, team, unit_cost="100"))["id"]
    for state in ("pending", "pending_approval", "revision_required"):
        await _force(world, sid, state)
        for who in EDITORS:
            status, spec = await send(client, "PATCH", f"{URL}/{sid}", team.headers[who],
                                      {"unit_cost": "120"})
            assert status == 200, (state, who, spec)
