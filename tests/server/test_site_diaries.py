"""Site diaries over HTTP: the lock after completion (a craftsman cannot change a completed
day, a project manager can with a reason, and the history shows every version), today and
past days only in the project's zone, copying manpower, photos, and who sees a diary."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient

from db.pool import system_transaction
from server.config import Settings
from storage.settings import StorageSettings
from tests.conftest import World
from tests.realtime.conftest import Sock
from tests.server.attachment_client import files_client, png, upload
from tests.server.project_team import Team, make_team, send

Client = TestClient[Any, Any]
URL = "/api/v1/site-diaries"
CREW = [{"company": "Acme Joinery", "trade": "joinery", "workers": 4, "hours": 32},
        {"company": "Stone Co", "workers": 2, "hours": 15.5}]


def _today(zone: str = "UTC") -> dt.date:
    return dt.datetime.now(ZoneInfo(zone)).date()


async def _diary(client: Client, team: Team, day: dt.date, who: str = "craftsman",
                 **fields: Any) -> Any:
    status, diary = await send(client, "POST", URL, team.headers[who], {
        "project_id": str(team.project), "day": day.isoformat(), **fields})
    assert status == 201, diary
    return diary


async def _count(world: World, team: Team) -> int:
    async with system_transaction(world.pool) as conn:
        found: int = await conn.fetchval(
            "SELECT count(*) FROM site_diaries WHERE project_id = $1", team.project)
    return found


async def test_a_completed_day_is_locked_and_its_history_shows_every_version(
        client: Client, world: World) -> None:
    team = await make_team(world, client)
    h = team.headers
    diary = await _diary(client, team, _today(), weather={"conditions": "sunny",
                                                          "temperature_max_c": 14},
                         manpower=CREW)
    path = f"{URL}/{diary['id']}"
    assert diary["status"] == "open" and diary["manpower"][1]["hours"] == 15.5
    status, diary = await send(client, "PATCH", path, h["craftsman"], {
        "delays": [{"cause": "Crane down", "hours_lost": 2.5}],
        "safety": [{"kind": "observation", "description": "Missing guard rail, level 3"}],
        "visitors": [{"name": "Ayşe Kaya", "company": "Client", "purpose": "walk-through"}],
        "notes": "Second fix started"})
    assert status == 200 and diary["version"] == 2, diary
    # The craftsman is no site manager; the coordinator is.
    status, problem = await send(client, "POST", f"{path}/complete", h["craftsman"])
    assert status == 403
    status, done = await send(client, "POST", f"{path}/complete", h["coordinator"])
    assert status == 200 and done["status"] == "complete" and done["completed_at"]
    # Locked: a craftsman cannot change it, with or without a reason; nor copy into it.
    for body in ({"notes": "late entry"}, {"notes": "late entry", "reason": "forgot"}):
        status, problem = await send(client, "PATCH", path, h["craftsman"], body)
        assert status == 409 and problem["code"] == "diary_locked", problem
    status, problem = await send(client, "POST", f"{path}/copy-manpower", h["craftsman"])
    assert status == 409
    # A project manager can, with a reason.
    status, problem = await send(client, "PATCH", path, h["project_manager"],
                                 {"manpower": CREW[:1]})
    assert status == 422 and problem["errors"][0]["field"] == "reason"
    status, amended = await send(client, "PATCH", path, h["project_manager"], {
        "manpower": [{**CREW[0], "workers": 5, "hours": 40}],
        "reason": "Foreman's count was wrong"})
    assert status == 200, amended
    assert amended["status"] == "complete" and amended["manpower"][0]["workers"] == 5
    assert amended["change_reason"] == "Foreman's count was wrong"
    status, history = await send(client, "GET", f"{path}/history", h["designer"])
    assert status == 200, history
    versions = history["versions"]
    assert [v["version"] for v in versions] == [1, 2, 3, 4]
    assert [v["action"] for v in versions] == ["created", "updated", "updated", "updated"]
    assert [v["status"] for v in versions] == ["open", "open", "complete", "complete"]
    assert [v["reason"] for v in versions] == [None, None, None, "Foreman's count was wrong"]
    craftsman, coordinator, manager = (str(team.users[r]["id"]) for r in (
        "craftsman", "coordinator", "project_manager"))
    assert [v["by"] for v in versions] == [craftsman, craftsman, coordinator, manager]
    # Both versions of the locked day, before and after the change.
    assert versions[2]["diary"]["manpower"][0]["workers"] == 4
    assert versions[3]["diary"]["manpower"] == [{**CREW[0], "workers": 5, "hours": 40}]
    assert "manpower" in versions[3]["changed_fields"]


async def test_future_days_and_bad_input_are_422_with_nothing_written(
        client: Client, world: World) -> None:
    team = await make_team(world, client)
    today = _today()
    other = await world.project(team.org, members=[team.users["project_manager"]])
    async with system_transaction(world.pool) as conn:
        foreign_spec = await conn.fetchval(
            "INSERT INTO material_specs (org_id, project_id, description) "
            "VALUES ($1, $2, 'Brass') RETURNING id", team.org, other)
    cases = [
        ({"day": (today + dt.timedelta(days=7)).isoformat()}, "day"),  # next week
        ({"day": (today + dt.timedelta(days=2)).isoformat()}, "day"),
        ({"day": (today - dt.timedelta(days=800)).isoformat()}, "day"),
        ({"manpower": [{"company": "Acme", "workers": -1, "hours": 1}]}, "manpower"),
        ({"manpower": [{"company": "", "workers": 1, "hours": 1}]}, "manpower"),
        ({"manpower": [{"company": "A", "workers": 1, "hours": 1}] * 101}, "manpower"),
        ({"delays": [{"cause": "rain", "hours_lost": -3}]}, "delays"),
        ({"safety": [{"kind": "accident", "description": "x"}]}, "safety"),
        ({"deliveries": [{"description": "Brass", "material_spec_id": str(foreign_spec)}]},
         "deliveries"),
        ({"weather": {"temperature_max_c": 200}}, "weather"),
        ({"day": 20261205}, "day"),
    ]
    for fields, field in cases:
        body = {"project_id": str(team.project), "day": today.isoformat(), **fields}
        status, problem = await send(client, "POST", URL, team.headers["craftsman"], body)
        assert status == 422, (fields, problem)
        assert any(e["field"].split(".")[0].split("[")[0] == field
                   for e in problem["errors"]), (fields, problem)
        if field == "day" and "future" in problem["detail"]:
            assert problem["code"] == "diary_day_in_future"
    assert await _count(world, team) == 0
    # Clients and users outside the project write nothing.
    for who, expected in (("client", 403), ("outsider", 404), ("stranger", 404)):
        status, _ = await send(client, "POST", URL, team.headers[who], {
            "project_id": str(team.project), "day": today.isoformat()})
        assert status == expected, who
    assert await _count(world, team) == 0
    # One per project per day.
    await _diary(client, team, today)
    status, problem = await send(client, "POST", URL, team.headers["coordinator"], {
        "project_id": str(team.project), "day": today.isoformat()})
    assert status == 409 and problem["code"] == "diary_exists"


async def test_today_is_the_projects_today(client: Client, world: World) -> None:
    """A project at UTC+14 writes its 'today' while that is still tomorrow in UTC; one at
    UTC-11 may not write a day that has begun in UTC but not there."""
    team = await make_team(world, client)
    pm = team.headers["project_manager"]
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        status, _ = await send(client, "PUT", f"/api/v1/projects/{team.project}/calendar",
                               team.headers["admin"],
                               {"time_zone": zone})
        assert status == 200, _
        there = _today(zone)
        await _diary(client, team, there)
        status, problem = await send(client, "POST", URL, pm, {
            "project_id": str(team.project), "day": (there + dt.timedelta(days=1)).isoformat()})
        assert status == 422 and problem["code"] == "diary_day_in_future"


async def test_copying_yesterdays_manpower(client: Client, world: World) -> None:
    team = await make_team(world, client)
    today = _today()
    await _diary(client, team, today - dt.timedelta(days=1), manpower=CREW)
    diary = await _diary(client, team, today, copy_manpower=True)
    assert diary["manpower"] == CREW
    # Into a diary that has its own figures: those stay, the rest is added.
    day = today - dt.timedelta(days=3)
    mine = await _diary(client, team, day, manpower=[{"company": "stone co", "workers": 1,
                                                      "hours": 8}])
    await _diary(client, team, day - dt.timedelta(days=2), manpower=CREW)
    status, copied = await send(client, "POST", f"{URL}/{mine['id']}/copy-manpower",
                                team.headers["craftsman"])
    assert status == 200, copied
    assert copied["manpower"] == [{"company": "stone co", "workers": 1, "hours": 8}, CREW[0]]
    first = await _diary(client, team, today - dt.timedelta(days=30))
    status, _ = await send(client, "POST", f"{URL}/{first['id']}/copy-manpower",
                                 team.headers["craftsman"])
    assert status == 404


async def test_lists_and_reads_reach_only_staff_of_the_project(client: Client,
                                                               world: World) -> None:
    team = await make_team(world, client)
    today = _today()
    for back in range(3):
        await _diary(client, team, today - dt.timedelta(days=back))
    listed = f"{URL}?project_id={team.project}"
    status, page = await send(client, "GET", listed, team.headers["designer"])
    assert status == 200 and [d["day"] for d in page["data"]] == [
        (today - dt.timedelta(days=b)).isoformat() for b in range(3)]
    status, page = await send(client, "GET", f"{listed}&day_from="
                              f"{(today - dt.timedelta(days=1)).isoformat()}&limit=1",
                              team.headers["designer"])
    assert [d["day"] for d in page["data"]] == [today.isoformat()] and page["next_cursor"]
    diary_id = page["data"][0]["id"]
    status, page = await send(client, "GET", listed, team.headers["client"])
    assert status == 200 and page["data"] == []
    for who in ("client", "outsider", "stranger"):
        for path in (f"{URL}/{diary_id}", f"{URL}/{diary_id}/history"):
            status, _ = await send(client, "GET", path, team.headers[who])
            assert status == 404, (who, path)
    for who in ("outsider", "stranger"):
        status, _ = await send(client, "GET", listed, team.headers[who])
        assert status == 404, who
    response = await client.get(f"{listed}&format=csv", headers=team.headers["designer"])
    assert response.status == 200 and (await response.text()).count("\n") == 4


@pytest.fixture
async def fclient(aiohttp_client: Callable[..., Any], settings: Settings,
                  tmp_path: Path) -> Client:
    return await files_client(aiohttp_client, settings,
                              StorageSettings(kind="file", root=tmp_path / "files"))


async def test_diary_photos_are_for_the_projects_staff_only(fclient: Client,
                                                            world: World) -> None:
    team = await make_team(world, fclient)
    diary = await _diary(fclient, team, _today())
    photo = await upload(fclient, team, png(32, 24), who="craftsman", entity_type="site_diary",
                         entity_id=diary["id"], file_name="crane.png")
    listed = f"/api/v1/attachments?entity_type=site_diary&entity_id={diary['id']}"
    status, page = await send(fclient, "GET", listed, team.headers["coordinator"])
    assert status == 200 and [a["id"] for a in page["data"]] == [photo["id"]]
    # Once complete, the diary takes photos from those who may amend it only.
    status, _ = await send(fclient, "POST", f"{URL}/{diary['id']}/complete",
                           team.headers["coordinator"])
    assert status == 200
    status, problem = await send(fclient, "POST", "/api/v1/attachments",
                                 team.headers["craftsman"], {
                                     "project_id": str(team.project), "entity_type": "site_diary",
                                     "entity_id": diary["id"], "file_name": "late.png",
                                     "content_type": "image/png", "size": 100})
    assert status == 409 and problem["code"] == "diary_locked", problem
    await upload(fclient, team, png(8, 8), who="project_manager", entity_type="site_diary",
                 entity_id=diary["id"], file_name="added.png")
    for who in ("client", "outsider", "stranger"):
        status, _ = await send(fclient, "GET", listed, team.headers[who])
        assert status == 404, who
        for path in ("", "/download"):
            response = await fclient.get(f"/api/v1/attachments/{photo['id']}{path}",
                                         headers=team.headers[who])
            assert response.status == 404, (who, path)


async def test_diary_events_reach_staff_sockets_only(client: Client, world: World) -> None:
    team = await make_team(world, client)
    socks = {}
    try:
        for who in ("designer", "client"):
            sock = Sock()
            token = team.headers[who]["Authorization"].split()[1]
            await sock.connect(f"http://127.0.0.1:{client.server.port}", token)
            assert (await sock.call("subscribe", {"project_id": str(team.project)}))["ok"]
            socks[who] = sock
        diary = await _diary(client, team, _today(), manpower=CREW)
        status, _ = await send(client, "POST", f"{URL}/{diary['id']}/complete",
                               team.headers["coordinator"])
        assert status == 200
        # A marker the client may see, sent after the diary's events.
        status, _ = await send(client, "PATCH", f"/api/v1/projects/{team.project}",
                               team.headers["project_manager"], {"description": "marker"})
        assert status == 200, _
        await socks["client"].wait_for(lambda: bool(socks["client"].named("project.updated")))
        await socks["designer"].wait_for(
            lambda: len(socks["designer"].named("site_diary.updated")) == 1
            and bool(socks["designer"].named("site_diary.created")))
        assert socks["designer"].named("site_diary.updated")[0]["changed_fields"] == [
            "completed_at", "completed_by", "status"]
        assert not [e for e, _ in socks["client"].events if e.startswith("site_diary.")]
    finally:
        for sock in socks.values():
            await sock.close()
