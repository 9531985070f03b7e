"""The drawing register: drawings, ISO 19650 revisions, publish/supersede (one current revision
under concurrent publishes), the current set, bulk upload guesses, roles and visibility."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from db.pool import system_transaction
from tests.conftest import World
from tests.server.api import Caller, caller, fields


async def _team(client: TestClient[Any, Any], world: World) -> tuple[Any, Caller, Caller, Any]:
    org = await world.org()
    pm = await caller(client, world, org, "project_manager")
    designer = await caller(client, world, org, "designer")
    project = await world.project(org, members=[pm.user, designer.user])
    return org, pm, designer, project


async def _drawing(who: Caller, project: Any, number: str = "A-101",
                   title: str = "Ground Floor Plan") -> dict[str, Any]:
    status, body = await who.post(f"/api/v1/projects/{project}/drawings",
                                  {"number": number, "title": title})
    assert status == 201, body
    return body


async def _revision(who: Caller, drawing: dict[str, Any], code: str,
                    status: str | None = None) -> dict[str, Any]:
    payload = {"revision": code} | ({"status": status} if status else {})
    code_, body = await who.post(f"/api/v1/drawings/{drawing['id']}/revisions", payload)
    assert code_ == 201, body
    return body


async def test_register_revisions_publish_and_supersede(client: TestClient[Any, Any],
                                                        world: World) -> None:
    _, pm, designer, project = await _team(client, world)
    drawing = await _drawing(designer, project, "id-201", "Reflected Ceiling")
    assert drawing["number"] == "ID-201"
    assert (drawing["discipline"], drawing["discipline_name"]) == ("ID", "Interior Design")
    assert drawing["current_revision"] is None
    wip = await _revision(designer, drawing, "P01.01")
    assert (wip["status"], wip["revision_kind"], wip["is_current"]) == ("S0", "wip", False)
    p01 = await _revision(designer, drawing, "P01", "S3")
    status, body = await designer.post(f"/api/v1/drawings/{drawing['id']}/revisions",
                                       {"revision": "P01"})
    assert status == 422 and body["code"] == "revision_out_of_order"  # not after itself
    status, body = await designer.post(f"/api/v1/drawings/{drawing['id']}/revisions",
                                       {"revision": "P02", "status": "A1"})
    assert status == 422 and body["code"] == "status_revision_mismatch"
    status, body = await designer.post(f"/api/v1/drawings/{drawing['id']}/revisions",
                                       {"revision": "P00"})
    assert status == 422 and fields(body) == {"revision"}

    # Only project managers and admins publish; WIP versions never.
    assert (await designer.post(f"/api/v1/drawing-revisions/{p01['id']}/publish"))[0] == 403
    status, body = await pm.post(f"/api/v1/drawing-revisions/{wip['id']}/publish")
    assert status == 409 and body["code"] == "not_publishable"
    status, published = await pm.post(f"/api/v1/drawing-revisions/{p01['id']}/publish")
    assert status == 200, published
    assert published["is_current"] and published["published_at"]
    assert published["superseded_revision_id"] is None
    status, body = await pm.post(f"/api/v1/drawing-revisions/{p01['id']}/publish")
    assert status == 409 and body["code"] == "already_published"

    c01 = await _revision(designer, drawing, "C01")
    assert c01["status"] == "A1"
    status, published = await pm.post(f"/api/v1/drawing-revisions/{c01['id']}/publish")
    assert status == 200 and published["superseded_revision_id"] == p01["id"]

    status, one = await pm.get(f"/api/v1/drawings/{drawing['id']}")
    assert status == 200
    assert one["current_revision_id"] == c01["id"]
    assert one["current_revision"]["revision"] == "C01"
    by_code = {r["revision"]: r for r in one["revisions"]}
    assert by_code["P01"]["is_superseded"] and not by_code["P01"]["is_current"]
    assert by_code["P01"]["superseded_at"] is not None
    assert by_code["C01"]["is_current"] and not by_code["C01"]["is_superseded"]
    status, listed = await pm.get(f"/api/v1/drawings/{drawing['id']}/revisions")
    assert [r["revision"] for r in listed["data"]] == ["P01.01", "P01", "C01"]

    # Out of order: a revision must follow every earlier one.
    status, body = await designer.post(f"/api/v1/drawings/{drawing['id']}/revisions",
                                       {"revision": "P02"})
    assert status == 422 and body["code"] == "revision_out_of_order"


async def test_current_set(client: TestClient[Any, Any], world: World) -> None:
    _, pm, designer, project = await _team(client, world)
    published = await _drawing(designer, project, "A-101")
    await _drawing(designer, project, "M-201", "Ductwork")
    rev = await _revision(designer, published, "P01")
    await pm.post(f"/api/v1/drawing-revisions/{rev['id']}/publish")
    url = f"/api/v1/projects/{project}/drawings"
    status, everything = await pm.get(url)
    assert status == 200 and [d["number"] for d in everything["data"]] == ["A-101", "M-201"]
    status, current = await pm.get(url, params={"current": "true"})
    assert [d["number"] for d in current["data"]] == ["A-101"]
    assert current["data"][0]["current_revision"]["revision"] == "P01"
    assert current["data"][0]["current_revision"]["is_current"] is True
    status, mech = await pm.get(url, params={"discipline": "m"})
    assert [d["number"] for d in mech["data"]] == ["M-201"]


async def test_patch_discipline_override_and_delete(client: TestClient[Any, Any],
                                                    world: World) -> None:
    _, pm, designer, project = await _team(client, world)
    drawing = await _drawing(designer, project, "X-1", "Odd")
    assert drawing["discipline"] is None
    path = f"/api/v1/drawings/{drawing['id']}"
    status, body = await designer.patch(path, {"discipline_override": "ff"})
    assert status == 200 and body["discipline"] == "FF" and body["discipline_override"] == "FF"
    status, body = await designer.patch(path, {"discipline_override": "ZZ"})
    assert status == 422 and body["code"] == "unknown_discipline"
    status, body = await designer.patch(path, {"discipline_override": None, "number": "e-9"})
    assert status == 200 and (body["number"], body["discipline"]) == ("E-9", "E")
    status, body = await designer.patch(path, {"title": "New"}, headers={"If-Match": '"1"'})
    assert status == 412
    rev = await _revision(designer, drawing, "P01")
    await pm.post(f"/api/v1/drawing-revisions/{rev['id']}/publish")
    assert (await designer.delete(path))[0] == 403
    assert (await pm.delete(path))[0] == 204
    assert (await pm.get(path))[0] == 404
    status, body = await designer.post(f"/api/v1/projects/{project}/drawings",
                                       {"number": "A 1", "title": "x"})
    assert status == 422 and body["code"] == "invalid_drawing_number"


async def test_concurrent_publishes_leave_one_current_revision(
    client: TestClient[Any, Any], world: World, pool: asyncpg.Pool,
) -> None:
    _, pm, designer, project = await _team(client, world)
    drawing = await _drawing(designer, project)
    codes = [f"P{n:02d}" for n in range(1, 9)]
    revisions = [await _revision(designer, drawing, code) for code in codes]
    results = await asyncio.gather(*(pm.post(f"/api/v1/drawing-revisions/{r['id']}/publish")
                                     for r in revisions))
    statuses = [status for status, _ in results]
    assert set(statuses) <= {200, 409} and 200 in statuses
    async with system_transaction(pool) as conn:
        current = await conn.fetch("SELECT id, revision FROM drawing_revisions "
                                   "WHERE drawing_id = $1::uuid AND is_current", drawing["id"])
        pointer = await conn.fetchval("SELECT current_revision_id FROM drawings "
                                      "WHERE id = $1::uuid", drawing["id"])
        published = await conn.fetch("SELECT revision, superseded_at FROM drawing_revisions "
                                     "WHERE drawing_id = $1::uuid AND published_at IS NOT NULL",
                                     drawing["id"])
    assert len(current) == 1 and current[0]["id"] == pointer
    # Every published revision but the current one is superseded; publishes that lost the
    # race to a later revision were refused, never left half-done.
    assert sum(1 for r in published if r["superseded_at"] is None) == 1
    assert len(published) == statuses.count(200)
    # And again, with every publish of a fresh drawing racing for the same revision.
    other = await _drawing(designer, project, "A-102")
    rev = await _revision(designer, other, "C01")
    again = await asyncio.gather(*(pm.post(f"/api/v1/drawing-revisions/{rev['id']}/publish")
                                   for _ in range(6)))
    assert sorted(s for s, _ in again) == [200] + [409] * 5


async def test_bulk_upload_dry_run_then_create(client: TestClient[Any, Any],
                                               world: World) -> None:
    _, pm, designer, project = await _team(client, world)
    existing = await _drawing(designer, project, "A-101")
    await _revision(designer, existing, "P01")
    url = f"/api/v1/projects/{project}/drawings/bulk"
    files = [{"file_name": "A-101 Ground Floor Plan P02.pdf"},
             {"file_name": "ID_201_Ceiling_Rev_C01.pdf"},
             {"file_name": "Scan 0001.pdf"}]
    status, dry = await designer.post(url, {"files": files}, params={"dry_run": "true"})
    assert status == 200, dry
    assert dry["dry_run"] is True and dry["ok"] is False
    a101, id201, scan = dry["items"]
    assert (a101["number"], a101["revision"], a101["new_drawing"]) == ("A-101", "P02", False)
    assert a101["drawing_id"] == existing["id"] and a101["problems"] == []
    assert (id201["number"], id201["title"], id201["revision"], id201["discipline"]) == (
        "ID-201", "Ceiling", "C01", "ID")
    assert id201["status"] == "A1" and id201["new_drawing"]
    assert {p["field"] for p in scan["problems"]} == {"number", "revision"}
    status, body = await designer.post(url, {"files": files})
    assert status == 422 and body["code"] == "bulk_problems"
    assert (await pm.get(f"/api/v1/projects/{project}/drawings"))[1]["data"][0]["number"] \
        == "A-101"
    assert len((await pm.get(f"/api/v1/projects/{project}/drawings"))[1]["data"]) == 1
    # The confirmation corrects the scan's guess.
    files[2] |= {"number": "E-301", "title": "Lighting", "revision": "P01"}
    status, done = await designer.post(url, {"files": files})
    assert status == 201 and done["ok"], done
    assert all(item["revision_id"] for item in done["items"])
    status, listed = await pm.get(f"/api/v1/projects/{project}/drawings")
    assert [d["number"] for d in listed["data"]] == ["A-101", "E-301", "ID-201"]
    status, revs = await pm.get(f"/api/v1/drawings/{existing['id']}/revisions")
    assert [(r["revision"], r["file_name"]) for r in revs["data"]] == [
        ("P01", None), ("P02", "A-101 Ground Floor Plan P02.pdf")]
    status, body = await designer.post(url, {"files": []})
    assert status == 422


async def test_visibility_other_project_org_and_client_users(
    client: TestClient[Any, Any], world: World,
) -> None:
    org, pm, designer, project = await _team(client, world)
    drawing = await _drawing(designer, project)
    draft = await _revision(designer, drawing, "P01")
    published = await _revision(designer, drawing, "P02")
    await pm.post(f"/api/v1/drawing-revisions/{published['id']}/publish")
    outsider = await caller(client, world, org, "project_manager")  # not on the team
    stranger = await caller(client, world, await world.org(), "admin")
    for who in (outsider, stranger):
        assert (await who.get(f"/api/v1/drawings/{drawing['id']}"))[0] == 404
        assert (await who.get(f"/api/v1/drawings/{drawing['id']}/revisions"))[0] == 404
        assert (await who.get(f"/api/v1/projects/{project}/drawings"))[0] == 404
        assert (await who.post(f"/api/v1/drawing-revisions/{draft['id']}/publish"))[0] == 404
        assert (await who.patch(f"/api/v1/drawings/{drawing['id']}", {"title": "x"}))[0] == 404
    client_id = await world.client_record(org, "Client Co")
    client_project = await world.project(org, client_id=client_id, members=[pm.user,
                                                                          designer.user])
    client_user = await caller(client, world, org, "client", client_id=client_id)
    shared = await _drawing(designer, client_project, "A-201")
    hidden = await _revision(designer, shared, "P01")
    # Unpublished, the drawing does not exist for client users.
    assert (await client_user.get(f"/api/v1/drawings/{shared['id']}"))[0] == 404
    assert (await client_user.get(f"/api/v1/drawings/{shared['id']}/revisions"))[0] == 404
    status, listed = await client_user.get(f"/api/v1/projects/{client_project}/drawings")
    assert status == 200 and listed["data"] == []
    assert (await client_user.post(f"/api/v1/drawing-revisions/{hidden['id']}/publish"))[0] \
        == 403
    await pm.post(f"/api/v1/drawing-revisions/{hidden['id']}/publish")
    later = await _revision(designer, shared, "P02")
    status, revs = await client_user.get(f"/api/v1/drawings/{shared['id']}/revisions")
    assert [r["revision"] for r in revs["data"]] == ["P01"]
    status, one = await client_user.get(f"/api/v1/drawings/{shared['id']}")
    assert [r["revision"] for r in one["revisions"]] == ["P01"]
    assert later["id"] not in {r["id"] for r in revs["data"]}
    status, current = await client_user.get(f"/api/v1/projects/{client_project}/drawings",
                                            params={"current": "true"})
    assert current["data"][0]["current_revision"]["revision"] == "P01"
    assert (await client_user.post(f"/api/v1/projects/{client_project}/drawings",
                                   {"number": "A-9", "title": "x"}))[0] == 403
