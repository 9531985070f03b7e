"""Uploads through the API's instructions: what the S3 bucket refuses (a larger body, another
content type, an expired policy, a forged key), uploads in parts resumed after a dropped
connection on both backends, and the size limit and organisation quota answered before
any byte is stored."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from db.pool import system_transaction
from server.config import Settings
from server.keys import STORAGE
from storage.keys import object_key
from storage.settings import StorageSettings
from tests.conftest import World
from tests.server.attachment_client import (
    URL,
    declaration,
    files_client,
    png,
    send_part,
    target_of,
)
from tests.server.project_team import make_team, send
from tests.storage.browser import post_form
from tests.storage.s3_server import s3_settings

MiB = 1024 * 1024


async def test_the_bucket_refuses_what_was_not_declared(
        aiohttp_client: Callable[..., Any], settings: Settings, world: World,
        s3_server: Any) -> None:
    client = await files_client(aiohttp_client, settings, s3_settings(s3_server))
    team = await make_team(world, client)
    headers, body = team.headers["designer"], png(64, 64)
    status, created = await send(client, "POST", URL, headers, declaration(team, body))
    assert status == 201 and created["upload"]["method"] == "POST"
    target = target_of(created["upload"])
    refused = [
        await post_form(target, body + b"x"),  # larger than declared
        await post_form(target, body[:-1]),  # smaller
        await post_form(target, body, change={"Content-Type": "text/html"}),
        await post_form(target, body, change={
            "key": target.fields["key"].rsplit("/", 1)[0] + "/" + object_key(
                team.org, team.project).rsplit("/", 1)[1]}),  # a forged key
    ]
    async with system_transaction(world.pool) as conn:
        key = await conn.fetchval("SELECT storage_key FROM attachments WHERE id = $1",
                                  created["id"])
    expiring = await client.app[STORAGE].upload_target(key, "image/png", len(body), expires=1)
    await asyncio.sleep(2.2)
    refused.append(await post_form(expiring, body))
    assert all(400 <= status < 500 for status, _ in refused), refused
    status, problem = await send(client, "POST", f"{URL}/{created['id']}/complete", headers)
    assert status == 409 and problem["code"] == "upload_incomplete"
    status, _ = await post_form(target, body)
    assert status in (200, 201, 204)
    status, done = await send(client, "POST", f"{URL}/{created['id']}/complete", headers)
    assert status == 200 and done["status"] == "ready"


async def test_an_upload_in_parts_resumes_after_a_dropped_connection(
        aiohttp_client: Callable[..., Any], settings: Settings, world: World,
        backend: StorageSettings) -> None:
    client = await files_client(aiohttp_client, settings, backend)
    team = await make_team(world, client)
    headers = team.headers["designer"]
    body = (b"line of a long site report\n" * (34 * MiB // 27 + 1))[:34 * MiB + 5]
    status, created = await send(client, "POST", URL, headers,
                                 declaration(team, body, "report.txt", "text/plain",
                                             sha256=hashlib.sha256(body).hexdigest()))
    assert status == 201, created
    upload = created["upload"]
    assert upload["method"] == "parts" and upload["part_count"] == 5
    assert upload["part_size"] == 8 * MiB and len(upload["parts"]) == 5
    parts = {part["number"]: part for part in upload["parts"]}
    for number in (1, 2):
        assert await send_part(client, headers, parts[number], body) in (200, 204)
    # The connection drops; the client asks what arrived and for fresh targets.
    status, state = await send(client, "GET", f"{URL}/{created['id']}/parts", headers)
    assert status == 200 and [p["number"] for p in state["uploaded"]] == [1, 2]
    assert state["received"] == 16 * MiB and state["parts"] == []
    status, problem = await send(client, "POST", f"{URL}/{created['id']}/complete", headers)
    assert status == 409 and problem["code"] == "upload_incomplete"
    status, fresh = await send(client, "POST", f"{URL}/{created['id']}/parts", headers,
                               {"numbers": [3, 4, 5]})
    assert status == 200 and [p["number"] for p in fresh["parts"]] == [3, 4, 5]
    for part in fresh["parts"]:
        assert await send_part(client, headers, part, body) in (200, 204)
    status, done = await send(client, "POST", f"{URL}/{created['id']}/complete", headers)
    assert status == 200, done
    assert done["status"] == "ready" and done["size"] == len(body)
    assert done["sha256"] == hashlib.sha256(body).hexdigest()


async def test_a_file_chunk_past_the_received_bytes_is_409(
        aiohttp_client: Callable[..., Any], settings: Settings, world: World,
        tmp_path: Path) -> None:
    client = await files_client(aiohttp_client, settings,
                                StorageSettings(kind="file", root=tmp_path / "files"))
    team = await make_team(world, client)
    headers = team.headers["designer"]
    body = b"x," * (17 * MiB)
    _, created = await send(client, "POST", URL, headers,
                            declaration(team, body, "sheet.csv", "text/csv"))
    parts = created["upload"]["parts"]
    assert await send_part(client, headers, parts[2], body) == 409
    response = await client.put(parts[2]["url"], data=body[:10],
                                headers={**headers, "Content-Range": "bytes 0-99/5"})
    assert response.status == 422
    assert (await response.json())["code"] == "invalid_content_range"


async def test_size_limit_and_quota_are_answered_before_any_byte(
        aiohttp_client: Callable[..., Any], settings: Settings, world: World,
        tmp_path: Path) -> None:
    client = await files_client(aiohttp_client, settings,
                                StorageSettings(kind="file", root=tmp_path / "files"),
                                max_upload_bytes=1000, org_storage_quota_bytes=1500)
    team = await make_team(world, client)
    headers = team.headers["designer"]
    status, problem = await send(client, "POST", URL, headers,
                                 {**declaration(team, b""), "size": 1001})
    assert status == 413 and problem["code"] == "file_too_large"
    status, first = await send(client, "POST", URL, headers,
                               {**declaration(team, b""), "size": 1000})
    assert status == 201
    status, problem = await send(client, "POST", URL, headers,
                                 {**declaration(team, b""), "size": 501})
    assert status == 507 and problem["code"] == "storage_quota_exceeded"
    assert problem["quota"] == 1500 and problem["used"] == 1000
    # Every project of the organisation counts, and a deleted file no longer does.
    other = await world.project(team.org, members=[team.users["designer"]])
    status, _ = await send(client, "POST", URL, headers,
                           {**declaration(team, b""), "size": 500, "project_id": str(other),
                            "entity_id": str(other)})
    assert status == 201
    status, _ = await send(client, "DELETE", f"{URL}/{first['id']}", headers)
    assert status == 204
    status, _ = await send(client, "POST", URL, headers, {**declaration(team, b""), "size": 900})
    assert status == 201
    assert [info async for info in client.app[STORAGE].list_objects()] == []
