"""A 100 MiB upload through the real PUT /api/v1/attachments/{id}/content (file://) raises
the worker's resident memory by less than 20 MiB; completing it (size, sniffing, sha256)
reads the file in bounded memory too. Client and server share this process, so the bound
covers both."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from server.config import Settings
from storage.settings import StorageSettings
from tests.conftest import World
from tests.memory import MiB, PeakRss, generated
from tests.server.attachment_client import URL, declaration, files_client
from tests.server.project_team import make_team, send

SIZE = 100 * MiB
LIMIT = 20 * MiB


async def test_a_100_mib_upload_through_the_api_stays_within_20_mib(
        aiohttp_client: Callable[..., Any], settings: Settings, world: World,
        tmp_path: Path) -> None:
    client = await files_client(aiohttp_client, settings,
                                StorageSettings(kind="file", root=tmp_path / "files"))
    team = await make_team(world, client)
    headers = team.headers["designer"]
    status, created = await send(client, "POST", URL, headers, {
        **declaration(team, b"", "diary.txt", "text/plain"), "size": SIZE})
    assert status == 201 and created["upload"]["method"] == "parts"
    digest = hashlib.sha256()
    async with PeakRss() as rss:
        response = await client.put(f"{URL}/{created['id']}/content",
                                    data=generated(SIZE, digest),
                                    headers={**headers, "Content-Length": str(SIZE)})
        assert response.status == 200, await response.text()
        assert (await response.json())["complete"] is True
        status, ready = await send(client, "POST", f"{URL}/{created['id']}/complete", headers)
    assert status == 200 and ready["sha256"] == digest.hexdigest()
    assert rss.growth < LIMIT, f"RSS grew by {rss.growth / MiB:.1f} MiB"
