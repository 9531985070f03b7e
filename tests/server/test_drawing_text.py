"""Bulk upload's text-layer fallback: a file whose name holds no drawing number is guessed
from its uploaded PDF's first page (read in a limited child process from the storage)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from db.pool import system_transaction
from server.config import Settings
from server.keys import MAILER, STORAGE
from storage.keys import object_key
from storage.local import LocalStorage
from tests.conftest import Outbox, World
from tests.files.text_pdfs import text_pdf
from tests.server.api import caller


@pytest.fixture
async def app(settings: Settings) -> web.Application:
    """The app with its file store (the one STORAGE_URL names: DATA_DIR/files here)."""
    from server.app import create_app

    application = create_app(settings)
    application[MAILER] = Outbox()
    if STORAGE not in application:  # opened at start-up once attachments are wired
        application[STORAGE] = LocalStorage(settings.storage.files_root(settings.data_dir))
    return application


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _stored_pdf(settings: Settings, pool: asyncpg.Pool, org: uuid.UUID,
                      project: uuid.UUID, file_name: str, data: bytes,
                      mime: str = "application/pdf") -> str:
    key = object_key(org, project)
    storage = LocalStorage(settings.storage.files_root(settings.data_dir))
    await storage.put_stream(key, _chunks(data), size=len(data), content_type=mime)
    async with system_transaction(pool) as conn:
        attachment = await conn.fetchval(
            """INSERT INTO attachments (org_id, project_id, entity_type, entity_id, file_name,
                                        mime_type, size, storage_key)
               VALUES ($1, $2, 'project', $2, $3, $4, $5, $6) RETURNING id""",
            org, project, file_name, mime, len(data), key)
        has_status = await conn.fetchval(
            "SELECT true FROM information_schema.columns WHERE table_name = 'attachments' "
            "AND column_name = 'status'")
        if has_status:  # revision 0021: a completed upload
            await conn.execute("UPDATE attachments SET status = 'ready' WHERE id = $1",
                               attachment)
    return str(attachment)


async def test_text_layer_fills_what_the_file_name_lacks(
    client: TestClient[Any, Any], world: World, pool: asyncpg.Pool, settings: Settings,
) -> None:
    org = await world.org()
    pm = await caller(client, world, org, "project_manager")
    project = await world.project(org, members=[pm.user])
    sheet = await _stored_pdf(settings, pool, org, project, "Scan 0001.pdf", text_pdf([
        "PROJECT: Level 3 Fit-Out", "DRAWING TITLE: Reflected Ceiling Plan",
        "DRAWING NO. ID-305   REV: P01"]))
    blank = await _stored_pdf(settings, pool, org, project, "Scan 0002.pdf",
                              b"%PDF-1.4 broken")
    other = await world.project(org, members=[pm.user])
    elsewhere = await _stored_pdf(settings, pool, org, other, "Scan 0003.pdf", text_pdf([
        "DRAWING NO. A-999 REV: P01"]))
    url = f"/api/v1/projects/{project}/drawings/bulk"
    files = [{"file_name": "Scan 0001.pdf", "attachment_id": sheet},
             {"file_name": "Scan 0002.pdf", "attachment_id": blank},
             {"file_name": "Scan 0003.pdf", "attachment_id": elsewhere},
             {"file_name": "A-101 Plan P01.pdf", "attachment_id": sheet}]
    status, dry = await pm.post(url, {"files": files}, params={"dry_run": "true"})
    assert status == 200, dry
    read, broken, foreign, named = dry["items"]
    assert (read["number"], read["title"], read["revision"], read["source"]) == (
        "ID-305", "Reflected Ceiling Plan", "P01", "text")
    assert read["problems"] == []
    assert broken["number"] is None and broken["source"] == "none"
    # Another project's attachment is never read, and is refused.
    assert foreign["number"] is None
    assert {p["field"] for p in foreign["problems"]} >= {"attachment_id", "number"}
    # A number in the file name wins: the text is not read for it.
    assert (named["number"], named["source"]) == ("A-101", "file_name")

    status, done = await pm.post(url, {"files": [files[0]]})
    assert status == 201, done
    status, drawing = await pm.get(f"/api/v1/drawings/{done['items'][0]['drawing_id']}")
    assert drawing["number"] == "ID-305" and drawing["title"] == "Reflected Ceiling Plan"
    assert drawing["revisions"][0]["attachment_id"] == sheet
