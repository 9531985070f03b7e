"""Helpers of the attachment tests: an app on a chosen storage backend, sample files, and
what a browser does with the upload instructions the API answers."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image

from server.config import Settings
from server.thumbnail_jobs import THUMBNAILS
from storage.backend import UploadTarget
from storage.settings import StorageSettings
from tests.conftest import Outbox
from tests.server.project_team import Team, send
from tests.storage.browser import post_form, put

URL = "/api/v1/attachments"


def png(width: int = 800, height: int = 600) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 4000  # a Linux executable's first bytes


async def files_client(aiohttp_client: Callable[..., Any], settings: Settings,
                       storage: StorageSettings, **changes: Any) -> TestClient[Any, Any]:
    from server.app import create_app
    from server.http import HANDLER_ARGS
    from server.keys import MAILER

    app = create_app(settings.model_copy(update={"storage": storage, **changes}))
    app[MAILER] = Outbox()
    server = TestServer(app)
    await server.start_server(**HANDLER_ARGS)
    client: TestClient[Any, Any] = await aiohttp_client(server)
    return client


def declaration(team: Team, body: bytes, file_name: str = "plan.png",
                content_type: str = "image/png", **more: Any) -> dict[str, Any]:
    return {"project_id": str(team.project), "entity_type": "project",
            "entity_id": str(team.project), "file_name": file_name,
            "content_type": content_type, "size": len(body), **more}


def target_of(upload: Mapping[str, Any]) -> UploadTarget:
    return UploadTarget(method=upload["method"], url=upload["url"], fields=upload["fields"],
                        headers=upload["headers"],
                        expires_at=datetime.fromisoformat(upload["expires_at"]))


async def send_bytes(client: TestClient[Any, Any], headers: dict[str, str],
                     created: Mapping[str, Any], body: bytes) -> int:
    """Upload `body` as the create answer says (one POST to the bucket, or one PUT)."""
    upload = created["upload"]
    if upload["method"] == "POST":
        status, _ = await post_form(target_of(upload), body)
        return status
    assert upload["method"] == "PUT" and upload["url"] == f"{URL}/{created['id']}/content"
    response = await client.put(upload["url"], data=body,
                                headers={**headers, **upload["headers"]})
    return response.status


async def send_part(client: TestClient[Any, Any], headers: dict[str, str],
                    part: Mapping[str, Any], body: bytes) -> int:
    chunk = body[part["offset"]:part["offset"] + part["size"]]
    if part["url"].startswith("/api/"):
        response = await client.put(part["url"], data=chunk,
                                    headers={**headers, **part["headers"]})
        return response.status
    status, _ = await put(part["url"], chunk, part["headers"])
    return status


async def upload(client: TestClient[Any, Any], team: Team, body: bytes, who: str = "designer",
                 **declared: Any) -> dict[str, Any]:
    """Declare, send and complete a file; its ready record."""
    headers = team.headers[who]
    status, created = await send(client, "POST", URL, headers,
                                 declaration(team, body, **declared))
    assert status == 201, created
    assert created["status"] == "pending"
    assert await send_bytes(client, headers, created, body) in (200, 204)
    status, done = await send(client, "POST", f"{URL}/{created['id']}/complete", headers)
    assert status == 200, done
    return dict(done)


async def settled(app: web.Application, seconds: float = 20.0) -> None:
    """Until this worker's thumbnail work is done."""
    await asyncio.wait_for(app[THUMBNAILS].settled.wait(), seconds)
    await asyncio.sleep(0)


async def download(client: TestClient[Any, Any], headers: dict[str, str],
                   attachment_id: str, what: str = "download"
                   ) -> tuple[int, bytes, Mapping[str, str]]:
    """The file's bytes as a browser gets them: following a redirect to the bucket."""
    response = await client.get(f"{URL}/{attachment_id}/{what}", headers=headers,
                                allow_redirects=False)
    if response.status == 302:
        async with aiohttp.ClientSession() as session, \
                session.get(response.headers["Location"]) as answer:
            return answer.status, await answer.read(), dict(answer.headers)
    return response.status, await response.read(), dict(response.headers)


def now() -> datetime:
    return datetime.now(UTC)


def some_id() -> str:
    return str(uuid.uuid4())
