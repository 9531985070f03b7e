"""Attachments over HTTP on both storage backends (a folder, and a private SeaweedFS S3
server that enforces presigned policies): the whole upload -> complete -> list ->
download -> thumbnail path, who may read what, sniffing, quota and size limits before any
byte is stored, soft delete and the sweep, the download's audit row."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from db.pool import system_transaction
from server.config import Settings
from server.file_sweep import sweep
from server.keys import STORAGE
from storage.keys import thumbnail_key
from storage.settings import StorageSettings
from tests.conftest import World
from tests.server.attachment_client import (
    ELF,
    URL,
    declaration,
    download,
    files_client,
    png,
    send_bytes,
    settled,
    upload,
)
from tests.server.project_team import Team, make_team, send

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
async def fclient(aiohttp_client: Callable[..., Any], settings: Settings,
                  backend: StorageSettings) -> AsyncIterator[TestClient[Any, Any]]:
    yield await files_client(aiohttp_client, settings, backend)


@pytest.fixture
async def team(world: World, fclient: TestClient[Any, Any]) -> Team:
    return await make_team(world, fclient)


async def _row(world: World, attachment_id: str) -> Any:
    async with system_transaction(world.pool) as conn:
        return await conn.fetchrow("SELECT * FROM attachments WHERE id = $1", attachment_id)


async def test_upload_complete_list_download_thumbnail(
        fclient: TestClient[Any, Any], team: Team, world: World) -> None:
    body = png()
    done = await upload(fclient, team, body, file_name="Ground floor ü.png",
                        sha256=hashlib.sha256(body).hexdigest())
    assert done["status"] == "ready" and done["size"] == len(body)
    assert done["sha256"] == hashlib.sha256(body).hexdigest()
    assert done["mime_type"] == "image/png"
    assert "storage_key" not in done and "upload_id" not in done

    status, page = await send(fclient, "GET", f"{URL}?entity_type=project&entity_id="
                              f"{team.project}", team.headers["craftsman"])
    assert status == 200 and [a["id"] for a in page["data"]] == [done["id"]]

    status, data, headers = await download(fclient, team.headers["client"], done["id"])
    assert status == 200 and data == body
    # The API's own answer (the file, or the redirect to the bucket) forbids sniffing and
    # sandboxes whatever a browser renders; a bucket cannot be told to add either header
    # to a presigned GET, so there the download is forced by its Content-Disposition.
    api = await fclient.get(f"{URL}/{done['id']}/download", headers=team.headers["client"],
                            allow_redirects=False)
    assert api.status in (200, 302)
    assert api.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in api.headers["Content-Security-Policy"]
    assert headers["Content-Type"] == "image/png"
    assert headers["Content-Disposition"].startswith('attachment; filename="Ground floor u.png"')
    assert "filename*=UTF-8''Ground%20floor%20%C3%BC.png" in headers["Content-Disposition"]
    async with system_transaction(world.pool) as conn:
        audit = await conn.fetchrow(
            "SELECT * FROM audit_logs WHERE action = 'download' AND record_id = $1", done["id"])
    assert audit is not None and audit["user_id"] == team.users["client"]["id"]
    assert audit["table_name"] == "attachments" and audit["project_id"] == team.project

    await settled(fclient.app)
    status, thumb, headers = await download(fclient, team.headers["client"], done["id"],
                                            "thumbnail")
    assert status == 200 and thumb[:4] == b"RIFF" and thumb[8:12] == b"WEBP"
    status, record = await send(fclient, "GET", f"{URL}/{done['id']}", team.headers["designer"])
    assert status == 200 and record["thumbnail"] == "ready"


async def test_json_download_link(fclient: TestClient[Any, Any], team: Team) -> None:
    done = await upload(fclient, team, png(40, 30))
    response = await fclient.get(f"{URL}/{done['id']}/download",
                                 headers={**team.headers["designer"], "Accept": "application/json"},
                                 allow_redirects=False)
    if fclient.app[STORAGE].kind == "s3":
        answer = await response.json()
        assert response.status == 200 and answer["url"].startswith("http")
    else:
        assert response.status == 200 and response.content_type == "image/png"


async def test_others_get_404_for_the_attachment_download_and_thumbnail(
        fclient: TestClient[Any, Any], team: Team) -> None:
    done = await upload(fclient, team, png())
    await settled(fclient.app)
    for who in ("outsider", "stranger"):
        for path in ("", "/download", "/thumbnail"):
            status, problem = await send(fclient, "GET", f"{URL}/{done['id']}{path}",
                                         team.headers[who])
            assert status == 404, (who, path, problem)
        status, _ = await send(fclient, "GET", f"{URL}?entity_type=project&entity_id="
                               f"{team.project}", team.headers[who])
        assert status == 404


async def test_a_renamed_executable_is_refused_and_removed(
        fclient: TestClient[Any, Any], team: Team, world: World) -> None:
    headers = team.headers["designer"]
    status, created = await send(fclient, "POST", URL, headers,
                                 declaration(team, ELF, "specs.pdf", "application/pdf"))
    assert status == 201
    assert await send_bytes(fclient, headers, created, ELF) in (200, 204)
    row = await _row(world, created["id"])
    storage = fclient.app[STORAGE]
    assert await storage.stat(row["storage_key"]) == len(ELF)
    status, problem = await send(fclient, "POST", f"{URL}/{created['id']}/complete", headers)
    assert status == 422 and problem["code"] == "file_refused"
    assert problem["reason"] == "executable"
    assert await storage.stat(row["storage_key"]) is None
    status, _ = await send(fclient, "GET", f"{URL}/{created['id']}", headers)
    assert status == 404


async def test_a_wrong_checksum_is_refused(fclient: TestClient[Any, Any], team: Team) -> None:
    headers, body = team.headers["designer"], png(20, 20)
    status, created = await send(fclient, "POST", URL, headers,
                                 declaration(team, body, sha256="0" * 64))
    assert status == 201
    assert await send_bytes(fclient, headers, created, body) in (200, 204)
    status, problem = await send(fclient, "POST", f"{URL}/{created['id']}/complete", headers)
    assert status == 422 and problem["code"] == "checksum_mismatch"


async def test_completing_before_the_bytes_is_409(fclient: TestClient[Any, Any],
                                                  team: Team) -> None:
    headers, body = team.headers["designer"], png(20, 20)
    status, created = await send(fclient, "POST", URL, headers, declaration(team, body))
    status, problem = await send(fclient, "POST", f"{URL}/{created['id']}/complete", headers)
    assert status == 409 and problem["code"] == "upload_incomplete"
    assert problem["received"] == 0
    status, _ = await send(fclient, "POST", f"{URL}/{created['id']}/complete",
                           team.headers["coordinator"])
    assert status == 403


async def test_declarations_refused_before_any_byte(fclient: TestClient[Any, Any],
                                                    team: Team) -> None:
    headers = team.headers["designer"]
    cases = [
        (declaration(team, b"x", "setup.exe", "application/octet-stream"), 422,
         "file_type_not_allowed"),
        (declaration(team, b"x", "plan.pdf", "image/png"), 422, "file_type_not_allowed"),
        (declaration(team, b"x", "bad\nname.pdf", "application/pdf"), 422, "validation_failed"),
        (declaration(team, b"x", "a" * 252 + ".pdf", "application/pdf"), 422,
         "validation_failed"),
        ({**declaration(team, b"x"), "entity_type": "task"}, 422, "validation_failed"),
        ({**declaration(team, b"x"), "size": 201 * 1024 * 1024}, 413, "file_too_large"),
    ]
    for body, expected, code in cases:
        status, problem = await send(fclient, "POST", URL, headers, body)
        assert (status, problem["code"]) == (expected, code), body
    status, _ = await send(fclient, "POST", URL, team.headers["client"], declaration(team, b"x"))
    assert status == 403
    status, _ = await send(fclient, "POST", URL, team.headers["stranger"],
                           declaration(team, b"x"))
    assert status == 422


async def test_soft_delete_then_sweep_removes_the_objects(
        fclient: TestClient[Any, Any], team: Team, world: World) -> None:
    done = await upload(fclient, team, png())
    await settled(fclient.app)
    storage = fclient.app[STORAGE]
    row = await _row(world, done["id"])
    key = row["storage_key"]
    assert await storage.stat(thumbnail_key(key)) is not None
    status, _ = await send(fclient, "DELETE", f"{URL}/{done['id']}", team.headers["craftsman"])
    assert status == 403  # neither the uploader nor a manager
    status, _ = await send(fclient, "DELETE", f"{URL}/{done['id']}", team.headers["designer"])
    assert status == 204
    status, _ = await send(fclient, "GET", f"{URL}/{done['id']}", team.headers["designer"])
    assert status == 404
    assert await storage.stat(key) is not None  # until the sweep
    report = await sweep(fclient.app)
    assert report.removed == 1
    assert await storage.stat(key) is None and await storage.stat(thumbnail_key(key)) is None
    assert await _row(world, done["id"]) is None


async def test_the_sweep_expires_pending_uploads(fclient: TestClient[Any, Any], team: Team,
                                                 world: World) -> None:
    headers, body = team.headers["designer"], png(10, 10)
    _, created = await send(fclient, "POST", URL, headers, declaration(team, body))
    assert await send_bytes(fclient, headers, created, body) in (200, 204)
    key = (await _row(world, created["id"]))["storage_key"]
    report = await sweep(fclient.app)
    assert report.expired == 0 and await _row(world, created["id"]) is not None
    report = await sweep(fclient.app, pending_lifetime=timedelta(0))
    assert report.expired == 1 and await _row(world, created["id"]) is None
    assert await fclient.app[STORAGE].stat(key) is None


async def test_the_thumbnail_queue_depth_is_a_metric(fclient: TestClient[Any, Any]) -> None:
    response = await fclient.get("/metrics")
    text = await response.text()
    assert response.status == 200
    assert "# TYPE fpm_thumbnail_queue_depth gauge" in text
    assert "fpm_thumbnail_queue_depth 0.0" in text
    assert "fpm_thumbnail_jobs_refused_total 0.0" in text


async def test_the_sweep_offers_missing_thumbnails_again(
        fclient: TestClient[Any, Any], team: Team, world: World) -> None:
    done = await upload(fclient, team, png(300, 200))
    await settled(fclient.app)
    key = (await _row(world, done["id"]))["storage_key"]
    storage = fclient.app[STORAGE]
    await storage.delete(thumbnail_key(key))  # lost: a full queue, a restart mid-render
    async with system_transaction(world.pool) as conn:
        await conn.execute("UPDATE attachments SET thumbnail = NULL WHERE id = $1", done["id"])
    status, _ = await send(fclient, "GET", f"{URL}/{done['id']}/thumbnail",
                           team.headers["designer"])
    assert status == 404
    report = await sweep(fclient.app)
    assert report.thumbnails_offered == 1
    await settled(fclient.app)
    assert await storage.stat(thumbnail_key(key)) is not None
    assert (await _row(world, done["id"]))["thumbnail"] == "ready"
