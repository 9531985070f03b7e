"""The organisation's calendar and a project's own time zone (GET/PUT /api/v1/calendar)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient

from tests.conftest import World
from tests.server.api import caller, fields

Client = TestClient[Any, Any]


async def test_default_then_admin_sets_the_calendar(client: Client, world: World) -> None:
    org = await world.org()
    admin = await caller(client, world, org, "admin")
    designer = await caller(client, world, org, "designer")
    status, cal = await designer.get("/api/v1/calendar")
    assert status == 200
    assert cal["time_zone"] == "UTC" and cal["workdays"] == [1, 2, 3, 4, 5]
    assert cal["holidays"] == [] and cal["version"] == 1
    body = {"time_zone": "Europe/Istanbul", "workdays": [5, 1, 2, 3, 4],
            "holidays": ["2026-10-29", "2026-01-01", "2026-10-29"]}
    status, cal = await admin.call("PUT", "/api/v1/calendar", body,
                                   headers={"If-Match": '"1"'})
    assert status == 200, cal
    assert cal["time_zone"] == "Europe/Istanbul" and cal["workdays"] == [1, 2, 3, 4, 5]
    assert cal["holidays"] == ["2026-01-01", "2026-10-29"] and cal["version"] == 2
    assert cal["today"] == dt.datetime.now(ZoneInfo("Europe/Istanbul")).date().isoformat()
    assert admin.last.headers["ETag"] == '"2"'
    status, again = await designer.get("/api/v1/calendar")
    assert again["time_zone"] == "Europe/Istanbul" and again["version"] == 2
    status, _problem = await admin.call("PUT", "/api/v1/calendar", body,
                                       headers={"If-Match": '"1"'})
    assert status == 412


async def test_only_admins_write_and_bad_input_is_422(client: Client, world: World) -> None:
    org = await world.org()
    admin = await caller(client, world, org, "admin")
    for role in ("project_manager", "designer", "client"):
        who = await caller(client, world, org, role)
        status, problem = await who.call("PUT", "/api/v1/calendar", {"time_zone": "UTC"})
        assert status == 403, role
    for body, field in (
            ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
            ({"time_zone": "../../../etc/passwd"}, "time_zone"),
            ({"time_zone": ""}, "time_zone"),
            ({"time_zone": "UTC", "workdays": []}, "workdays"),
            ({"time_zone": "UTC", "workdays": [0, 8]}, "workdays"),
            ({"time_zone": "UTC", "holidays": ["2026-02-30"]}, "holidays"),
            ({"workdays": [1]}, "time_zone")):
        status, problem = await admin.call("PUT", "/api/v1/calendar", body)
        assert status == 422, (body, problem)
        assert any(f.startswith(field) for f in fields(problem)), (body, problem)
    status, cal = await admin.get("/api/v1/calendar")
    assert cal["version"] == 1 and cal["time_zone"] == "UTC"  # nothing written


async def test_project_zone_overrides_the_organisation_s(client: Client, world: World) -> None:
    org = await world.org()
    admin = await caller(client, world, org, "admin")
    await admin.call("PUT", "/api/v1/calendar", {"time_zone": "Europe/Istanbul",
                                                  "holidays": ["2026-10-29"]})
    project = await world.project(org)
    path = f"/api/v1/projects/{project}/calendar"
    status, cal = await admin.get(f"/api/v1/calendar?project_id={project}")
    assert status == 200 and cal["time_zone"] == "Europe/Istanbul"
    assert cal["project_time_zone"] is None and cal["org_time_zone"] == "Europe/Istanbul"
    status, cal = await admin.call("PUT", path, {"time_zone": "Asia/Dubai"})
    assert status == 200, cal
    assert cal["time_zone"] == "Asia/Dubai" and cal["holidays"] == ["2026-10-29"]
    assert cal["today"] == dt.datetime.now(ZoneInfo("Asia/Dubai")).date().isoformat()
    status, shown = await admin.get(f"/api/v1/projects/{project}")
    assert shown["time_zone"] == "Asia/Dubai"
    status, cal = await admin.call("PUT", path, {"time_zone": None})
    assert cal["time_zone"] == "Europe/Istanbul" and cal["project_time_zone"] is None
    status, _problem = await admin.call("PUT", path, {"time_zone": "Nowhere/Land"})
    assert status == 422


async def test_a_project_not_visible_is_404(client: Client, world: World) -> None:
    org, other = await world.org(), await world.org()
    project = await world.project(other)
    admin = await caller(client, world, org, "admin")
    status, _ = await admin.get(f"/api/v1/calendar?project_id={project}")
    assert status == 404
    status, _ = await admin.call("PUT", f"/api/v1/projects/{project}/calendar",
                                 {"time_zone": "UTC"})
    assert status == 404
    status, _ = await admin.get("/api/v1/calendar?project_id=not-a-uuid")
    assert status == 422
