"""Transmittals: issued revisions to recipients who can read the project, notifications to
recipients only, acknowledgements, the register, supersession notices, visibility."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from db.pool import system_transaction
from tests.conftest import World
from tests.server.api import Caller, caller, fields

URL = "/api/v1/transmittals"


async def _notes(pool: asyncpg.Pool, user: Caller | str) -> list[asyncpg.Record]:
    user_id = user.id if isinstance(user, Caller) else user
    async with system_transaction(pool) as conn:
        return list(await conn.fetch("SELECT * FROM notifications WHERE user_id = $1::uuid "
                                     "ORDER BY created_at", user_id))


async def _setup(client: TestClient[Any, Any], world: World) -> dict[str, Any]:
    org = await world.org()
    pm = await caller(client, world, org, "project_manager")
    designer = await caller(client, world, org, "designer")
    craftsman = await caller(client, world, org, "craftsman")
    bystander = await caller(client, world, org, "coordinator")
    client_id = await world.client_record(org, "Client Co")
    project = await world.project(org, client_id=client_id,
                                  members=[pm.user, designer.user, craftsman.user,
                                           bystander.user])
    client_user = await caller(client, world, org, "client", client_id=client_id)
    _, drawing = await designer.post(f"/api/v1/projects/{project}/drawings",
                                     {"number": "A-101", "title": "Plan"})
    _, p01 = await designer.post(f"/api/v1/drawings/{drawing['id']}/revisions",
                                 {"revision": "P01"})
    status, _ = await pm.post(f"/api/v1/drawing-revisions/{p01['id']}/publish")
    assert status == 200
    return {"org": org, "pm": pm, "designer": designer, "craftsman": craftsman,
            "bystander": bystander, "client": client_user, "project": project,
            "drawing": drawing, "p01": p01}


async def test_issue_notify_acknowledge_and_register(client: TestClient[Any, Any],
                                                     world: World, pool: asyncpg.Pool) -> None:
    s = await _setup(client, world)
    pm, craftsman, customer = s["pm"], s["craftsman"], s["client"]
    status, sent = await s["designer"].post(URL, {
        "project_id": str(s["project"]), "revision_ids": [s["p01"]["id"]],
        "recipient_user_ids": [craftsman.id, customer.id], "purpose": "for_construction",
        "message": "Please build to this."})
    assert status == 201, sent
    assert sent["purpose"] == "for_construction" and sent["sent_by"] == s["designer"].id
    assert set(sent["unacknowledged_user_ids"]) == {craftsman.id, customer.id}
    for who in (craftsman, customer):
        notes = await _notes(pool, who)
        assert [(n["type"], n["data"]["entity_id"]) for n in notes] == [
            ("transmittal", sent["id"])]
    for who in (pm, s["bystander"], s["designer"]):
        assert await _notes(pool, who) == []

    assert (await pm.post(f"{URL}/{sent['id']}/acknowledge"))[0] == 403  # not a recipient
    status, acked = await craftsman.post(f"{URL}/{sent['id']}/acknowledge")
    assert status == 200 and acked["unacknowledged_user_ids"] == [customer.id]
    first = next(r for r in acked["recipients"] if r["user_id"] == craftsman.id)
    status, again = await craftsman.post(f"{URL}/{sent['id']}/acknowledge")
    assert next(r for r in again["recipients"]
                if r["user_id"] == craftsman.id)["acknowledged_at"] == first["acknowledged_at"]

    register = f"/api/v1/projects/{s['project']}/transmittals"
    status, listed = await pm.get(register)
    assert status == 200 and [t["id"] for t in listed["data"]] == [sent["id"]]
    assert listed["data"][0]["unacknowledged_user_ids"] == [customer.id]
    status, waiting = await pm.get(register, params={"unacknowledged": "true"})
    assert len(waiting["data"]) == 1
    await customer.post(f"{URL}/{sent['id']}/acknowledge")
    status, waiting = await pm.get(register, params={"unacknowledged": "true"})
    assert waiting["data"] == []

    # Client users read the transmittals addressed to them, and nothing else.
    status, own = await customer.get(register)
    assert [t["id"] for t in own["data"]] == [sent["id"]]
    _, other = await s["designer"].post(URL, {
        "project_id": str(s["project"]), "revision_ids": [s["p01"]["id"]],
        "recipient_user_ids": [craftsman.id], "purpose": "for_information"})
    status, own = await customer.get(register)
    assert [t["id"] for t in own["data"]] == [sent["id"]]
    assert (await customer.get(f"{URL}/{other['id']}"))[0] == 404
    assert (await customer.post(f"{URL}/{other['id']}/acknowledge"))[0] == 404


async def test_supersession_notifies_each_recipient(client: TestClient[Any, Any], world: World,
                                                    pool: asyncpg.Pool) -> None:
    s = await _setup(client, world)
    craftsman, customer = s["craftsman"], s["client"]
    await s["designer"].post(URL, {
        "project_id": str(s["project"]), "revision_ids": [s["p01"]["id"]],
        "recipient_user_ids": [craftsman.id, customer.id], "purpose": "for_review"})
    await s["designer"].post(URL, {  # a second transmittal to the same person: one notice
        "project_id": str(s["project"]), "revision_ids": [s["p01"]["id"]],
        "recipient_user_ids": [craftsman.id], "purpose": "for_information"})
    _, c01 = await s["designer"].post(f"/api/v1/drawings/{s['drawing']['id']}/revisions",
                                      {"revision": "C01"})
    status, _ = await s["pm"].post(f"/api/v1/drawing-revisions/{c01['id']}/publish")
    assert status == 200
    for who in (craftsman, customer):
        superseded = [n for n in await _notes(pool, who) if n["type"] == "drawing_superseded"]
        assert len(superseded) == 1
        assert superseded[0]["data"]["entity_id"] == s["p01"]["id"]
        assert superseded[0]["data"]["superseded_by"] == c01["id"]
    assert [n for n in await _notes(pool, s["bystander"])] == []


async def test_refusals(client: TestClient[Any, Any], world: World) -> None:
    s = await _setup(client, world)
    designer, project = s["designer"], str(s["project"])
    outsider = await world.user(s["org"], "craftsman")  # not on the team
    status, body = await designer.post(URL, {
        "project_id": project, "revision_ids": [s["p01"]["id"]],
        "recipient_user_ids": [str(outsider["id"])], "purpose": "for_review"})
    assert status == 422 and body["code"] == "recipient_cannot_read"
    assert fields(body) == {"recipient_user_ids"}
    stranger = await world.user(await world.org(), "admin")
    status, body = await designer.post(URL, {
        "project_id": project, "revision_ids": [s["p01"]["id"]],
        "recipient_user_ids": [str(stranger["id"])], "purpose": "for_review"})
    assert status == 422 and body["code"] == "recipient_cannot_read"
    _, draft = await designer.post(f"/api/v1/drawings/{s['drawing']['id']}/revisions",
                                   {"revision": "P02"})
    status, body = await designer.post(URL, {
        "project_id": project, "revision_ids": [draft["id"]],
        "recipient_user_ids": [s["client"].id], "purpose": "for_review"})
    assert status == 422 and body["code"] == "unpublished_to_client"
    status, body = await designer.post(URL, {
        "project_id": project, "revision_ids": [draft["id"]],
        "recipient_user_ids": [s["craftsman"].id], "purpose": "for_review"})
    assert status == 201  # staff may review an unpublished revision
    status, body = await designer.post(URL, {
        "project_id": project, "revision_ids": [s["p01"]["id"]],
        "recipient_user_ids": [s["craftsman"].id], "purpose": "for_fun"})
    assert status == 422 and fields(body) == {"purpose"}
    other_project = await world.project(s["org"], members=[designer.user])
    status, body = await designer.post(URL, {
        "project_id": str(other_project), "revision_ids": [s["p01"]["id"]],
        "recipient_user_ids": [designer.id], "purpose": "for_review"})
    assert status == 422 and body["code"] == "unknown_revisions"
    status, body = await s["craftsman"].post(URL, {
        "project_id": project, "revision_ids": [s["p01"]["id"]],
        "recipient_user_ids": [designer.id], "purpose": "for_review"})
    assert status == 403
    nobody = await caller(client, world, await world.org(), "admin")
    status, body = await nobody.post(URL, {
        "project_id": project, "revision_ids": [s["p01"]["id"]],
        "recipient_user_ids": [nobody.id], "purpose": "for_review"})
    assert status == 422 and fields(body) == {"project_id"}
    assert (await nobody.get(f"/api/v1/projects/{project}/transmittals"))[0] == 404
