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
from tests.server.attachment_client import URL, declaration, files_client, png, settled, upload
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


async def test_a_drawing_revisions_file_is_hidden_from_client_users_until_published(
        fclient: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, fclient)
    status, drawing = await send(fclient, "POST", f"/api/v1/projects/{team.project}/drawings",
                                 team.headers["designer"], {"number": "A-101", "title": "Plan"})
    assert status == 201, drawing
    status, revision = await send(fclient, "POST", f"/api/v1/drawings/{drawing['id']}/revisions",
                                  team.headers["designer"], {"revision": "P01"})
    assert status == 201, revision
    done = await upload(fclient, team, png(64, 48), entity_type="drawing_revision",
                        entity_id=revision["id"])
    await settled(fclient.app)
    paths = ("", "/download", "/thumbnail")
    status, page = await _listed(fclient, team, "designer", "drawing_revision",
                                 uuid.UUID(revision["id"]))
    assert status == 200 and [a["id"] for a in page["data"]] == [done["id"]]

    # Unpublished: for the client the revision and its file do not exist.
    status, _ = await _listed(fclient, team, "client", "drawing_revision",
                              uuid.UUID(revision["id"]))
    assert status == 404
    for path in paths:
        response = await fclient.get(f"{URL}/{done['id']}{path}", headers=team.headers["client"])
        assert response.status == 404, path

    status, published = await send(fclient, "POST",
                                   f"/api/v1/drawing-revisions/{revision['id']}/publish",
                                   team.headers["project_manager"])
    assert status == 200, published
    status, page = await _listed(fclient, team, "client", "drawing_revision",
                                 uuid.UUID(revision["id"]))
    assert status == 200 and [a["id"] for a in page["data"]] == [done["id"]]
    for path in paths:
        response = await fclient.get(f"{URL}/{done['id']}{path}", headers=team.headers["client"])
        assert response.status == 200, path
        body = await response.read()
        assert body.startswith({"": b"{", "/download": b"\x89PNG", "/thumbnail": b"RIFF"}[path])


async def test_a_head_of_a_download_is_not_a_download(fclient: TestClient[Any, Any],
                                                      world: World) -> None:
    team = await make_team(world, fclient)
    done = await upload(fclient, team, png(8, 8))
    url = f"{URL}/{done['id']}/download"

    async def downloads() -> int:
        async with system_transaction(world.pool) as conn:
            count: int = await conn.fetchval(
                "SELECT count(*) FROM audit_logs WHERE action = 'download' AND record_id = $1",
                uuid.UUID(done["id"]))
        return count

    head = await fclient.head(url, headers=team.headers["client"])
    assert head.status == 200 and "attachment" in head.headers["Content-Disposition"]
    assert await downloads() == 0
    got = await fclient.get(url, headers=team.headers["client"])
    assert got.status == 200 and (await got.read())[:4] == b"\x89PNG"
    assert await downloads() == 1


async def test_a_page_of_another_origin_reads_a_downloads_file_name(
        aiohttp_client: Callable[..., Any], settings: Settings, tmp_path: Path,
        world: World) -> None:
    origin = "https://pm.example.test"
    client = await files_client(aiohttp_client, settings,
                                StorageSettings(kind="file", root=tmp_path / "files"),
                                cors_origins=(origin,))
    team = await make_team(world, client)
    done = await upload(client, team, png(8, 8), file_name="Site photo.png")
    for path in (f"{URL}/{done['id']}/download", f"{URL}/{done['id']}"):  # streamed, and not
        response = await client.get(path, headers={**team.headers["designer"], "Origin": origin})
        assert response.status == 200, path
        assert response.headers["Access-Control-Allow-Origin"] == origin, path
        exposed = {h.strip() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
        assert {"Content-Disposition", "ETag", "X-Request-ID"} <= exposed, path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    response = await client.get(f"{URL}/{done['id']}/download",
                                headers={**team.headers["designer"], "Origin": "https://evil.test"})
    assert response.status == 200 and "Access-Control-Allow-Origin" not in response.headers
    assert response.headers["Content-Security-Policy"].startswith("sandbox")


async def test_a_review_response_carries_its_files(fclient: TestClient[Any, Any],
                                                  world: World) -> None:
    """Files hang off a review task, uploaded by whoever may answer it while it is pending;
    the response names them (`attachment_ids`) and is answered with them. A client user
    sees only the files of its own tasks."""
    team = await make_team(world, fclient)
    pm, designer = team.headers["project_manager"], team.headers["designer"]
    status, template = await send(fclient, "POST", "/api/v1/review-templates", pm, {
        "project_id": str(team.project), "name": "Check",
        "outcomes": [{"label": "approved", "status": "approved"},
                     {"label": "rejected", "status": "rejected"}],
        "steps": [{"name": "Check", "rule": "all", "days": 2, "reviewers": [
            {"kind": "user", "ref": str(team.users["coordinator"]["id"])},
            {"kind": "client", "ref": str(team.users["client"]["client_id"])}]}]})
    assert status == 201, template
    status, drawing = await send(fclient, "POST", "/api/v1/shop-drawings", designer, {
        "project_id": str(team.project), "drawing_number": "AK-9", "title": "Desk"})
    await send(fclient, "POST", f"/api/v1/shop-drawings/{drawing['id']}/transitions", designer,
               {"action": "submit"})
    status, review = await send(fclient, "POST", "/api/v1/reviews", designer, {
        "entity_type": "shop_drawing", "entity_id": drawing["id"],
        "template_id": template["id"]})
    assert status == 201, review
    tasks = {t["reviewer_kind"]: t["id"] for t in review["tasks"]}
    mine = {"entity_type": "review_task", "entity_id": tasks["user"]}
    # Not the coordinator's to answer: the craftsman is refused; the client user cannot
    # even see the task; an outsider cannot see the project.
    for who, expected in (("craftsman", 403), ("client", 422), ("outsider", 422)):
        status, problem = await send(fclient, "POST", URL, team.headers[who],
                                     declaration(team, PDF, **mine))
        assert status == expected, (who, problem)
    mark_up = await upload(fclient, team, PDF, who="coordinator", file_name="markup.pdf",
                           content_type="application/pdf", **mine)
    theirs = await upload(fclient, team, png(8, 8), who="client", entity_type="review_task",
                          entity_id=tasks["client"])
    status, _ = await _listed(fclient, team, "client", "review_task", uuid.UUID(tasks["user"]))
    assert status == 404  # not the client user's task
    status, page = await _listed(fclient, team, "client", "review_task",
                                 uuid.UUID(tasks["client"]))
    assert [a["id"] for a in page["data"]] == [theirs["id"]]
    respond = f"/api/v1/review-tasks/{tasks['user']}/respond"
    for files in ([theirs["id"]], [str(uuid.uuid4())], [str(uuid.uuid4())] * 21, ["x"]):
        status, problem = await send(fclient, "POST", respond, team.headers["coordinator"],
                                     {"outcome": "approved", "attachment_ids": files})
        assert status == 422, problem
        assert problem["errors"][0]["field"].startswith("attachment_ids"), problem
    async with system_transaction(world.pool) as conn:
        state = await conn.fetchval("SELECT state FROM review_tasks WHERE id = $1",
                                    uuid.UUID(tasks["user"]))
    assert state == "pending"  # nothing written
    status, review = await send(fclient, "POST", respond, team.headers["coordinator"],
                                {"outcome": "approved", "comment": "see mark-up",
                                 "attachment_ids": [mark_up["id"], mark_up["id"]]})
    assert status == 200, review
    answered = next(t for t in review["tasks"] if t["id"] == tasks["user"])
    assert answered["attachment_ids"] == [mark_up["id"]]
    status, problem = await send(fclient, "POST", URL, team.headers["coordinator"],
                                 declaration(team, PDF, **mine))
    assert status == 409 and problem["code"] == "task_not_pending", problem
    # The client user's view of the review shows its own task only, with its files.
    status, seen = await send(fclient, "GET", f"/api/v1/reviews/{review['id']}",
                              team.headers["client"])
    assert [t["id"] for t in seen["tasks"]] == [tasks["client"]]
