"""What a file hangs off: every entity type of a project, a shop drawing's revision (the
approved revision's PDF stays with it when the next opens), a material spec's data sheets,
and an internal comment's files, which client users never see."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from db.pool import system_transaction
from server.config import Settings
from storage.settings import StorageSettings
from tests.conftest import World
from tests.server.attachment_client import URL, declaration, files_client, png, upload
from tests.server.project_team import Team, make_team, send

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
async def fclient(aiohttp_client: Callable[..., Any], settings: Settings,
                  tmp_path: Path) -> TestClient[Any, Any]:
    return await files_client(aiohttp_client, settings,
                              StorageSettings(kind="file", root=tmp_path / "files"))


async def _insert(world: World, sql: str, *args: Any) -> uuid.UUID:
    async with system_transaction(world.pool) as conn:
        value: uuid.UUID = await conn.fetchval(sql, *args)
    return value


async def _listed(client: TestClient[Any, Any], team: Team, who: str, kind: str,
                  entity: uuid.UUID, extra: str = "") -> tuple[int, Any]:
    return await send(client, "GET", f"{URL}?entity_type={kind}&entity_id={entity}{extra}",
                      team.headers[who])


async def test_a_shop_drawing_revision_keeps_its_files(fclient: TestClient[Any, Any],
                                                       world: World) -> None:
    team = await make_team(world, fclient)
    drawing = await _insert(world, "INSERT INTO shop_drawings (org_id, project_id, "
                            "drawing_number, title, status) VALUES ($1, $2, 'SD-1', 'Joinery', "
                            "'approved') RETURNING id", team.org, team.project)
    on = {"entity_type": "shop_drawing", "entity_id": str(drawing)}
    first = await upload(fclient, team, PDF, file_name="SD-1 Rev A.pdf",
                         content_type="application/pdf", **on)
    assert first["revision"] == "Rev A" and first["thumbnail"] is None
    async with system_transaction(world.pool) as conn:
        await conn.execute("UPDATE shop_drawings SET revision = 'Rev B', status = 'draft' "
                           "WHERE id = $1", drawing)
    second = await upload(fclient, team, PDF, file_name="SD-1 Rev B.pdf",
                          content_type="application/pdf", **on)
    assert second["revision"] == "Rev B"
    status, page = await _listed(fclient, team, "client", "shop_drawing", drawing)
    assert status == 200
    assert [(a["file_name"], a["revision"]) for a in page["data"]] == [
        ("SD-1 Rev B.pdf", "Rev B"), ("SD-1 Rev A.pdf", "Rev A")]
    status, page = await _listed(fclient, team, "client", "shop_drawing", drawing,
                                 "&revision=Rev%20A")
    assert [a["id"] for a in page["data"]] == [first["id"]]


async def test_every_entity_type_takes_files(fclient: TestClient[Any, Any],
                                            world: World) -> None:
    team = await make_team(world, fclient)
    org, project = team.org, team.project
    group = await _insert(world, "INSERT INTO scope_groups (org_id, project_id, name) "
                          "VALUES ($1, $2, 'mep') RETURNING id", org, project)
    entities = {
        "task": await _insert(world, "INSERT INTO tasks (org_id, project_id, name) VALUES "
                              "($1, $2, 'Snag 14') RETURNING id", org, project),
        "scope_item": await _insert(world, "INSERT INTO scope_items (org_id, project_id, "
                                    "scope_group_id, name) VALUES ($1, $2, $3, 'Duct') "
                                    "RETURNING id", org, project, group),
        "material_spec": await _insert(world, "INSERT INTO material_specs (org_id, project_id, "
                                       "description) VALUES ($1, $2, 'Oak veneer') "
                                       "RETURNING id", org, project),
    }
    for kind, entity in entities.items():
        done = await upload(fclient, team, png(16, 16), entity_type=kind,
                            entity_id=str(entity))
        status, page = await _listed(fclient, team, "craftsman", kind, entity)
        assert status == 200 and [a["id"] for a in page["data"]] == [done["id"]]
    other = await world.project(org)
    status, problem = await send(fclient, "POST", URL, team.headers["admin"], {
        **declaration(team, b"x"), "entity_type": "task",
        "entity_id": str(entities["task"]), "project_id": str(other)})
    assert status == 422 and problem["errors"][0]["field"] == "entity_id"
    # The drawing register's revisions may hold files once their table exists.
    status, problem = await send(fclient, "POST", URL, team.headers["designer"], {
        **declaration(team, b"x"), "entity_type": "drawing_revision",
        "entity_id": str(uuid.uuid4())})
    assert status == 422 and problem["errors"][0]["field"] == "entity_id"


async def test_an_internal_comments_files_are_hidden_from_client_users(
        fclient: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, fclient)
    comments = {}
    for visibility in ("internal", "shared"):
        comments[visibility] = await _insert(
            world, "INSERT INTO comments (org_id, project_id, entity_type, entity_id, user_id, "
            "body, visibility) VALUES ($1, $2, 'project', $2, $3, 'see photo', $4) "
            "RETURNING id", team.org, team.project, team.users["designer"]["id"], visibility)
    files = {visibility: await upload(fclient, team, png(8, 8), entity_type="comment",
                                      entity_id=str(comment))
             for visibility, comment in comments.items()}
    hidden, shared = files["internal"]["id"], files["shared"]["id"]
    for path in ("", "/download"):
        for attachment_id, expected in ((hidden, 404), (shared, 200)):
            response = await fclient.get(f"{URL}/{attachment_id}{path}",
                                         headers=team.headers["client"])
            assert response.status == expected, path
    status, _ = await _listed(fclient, team, "client", "comment", comments["internal"])
    assert status == 404
    status, page = await _listed(fclient, team, "coordinator", "comment", comments["internal"])
    assert status == 200 and [a["id"] for a in page["data"]] == [hidden]
