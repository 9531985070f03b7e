"""Notifications over HTTP: only one's own, unread filter, read one, read all."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import World
from tests.server.project_team import make_team, send

URL = "/api/v1/notifications"


async def test_read_and_read_all(client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    for i in range(3):
        status, _ = await send(client, "POST", "/api/v1/comments", team.headers["coordinator"], {
            "entity_type": "project", "entity_id": str(team.project),
            "body": f"note {i} for @designer.member"})
        assert status == 201
    me = team.headers["designer"]
    status, page = await send(client, "GET", f"{URL}?unread=true&limit=2", me)
    assert status == 200 and len(page["data"]) == 2 and page["next_cursor"]
    assert page["data"][0]["message"] == "note 2 for @designer.member"  # newest first
    first = page["data"][0]
    for who in ("coordinator", "stranger"):
        status, _ = await send(client, "POST", f"{URL}/{first['id']}/read", team.headers[who])
        assert status == 404, who
    status, read = await send(client, "POST", f"{URL}/{first['id']}/read", me)
    assert status == 200 and read["read_at"] and read["version"] == 2
    status, again = await send(client, "POST", f"{URL}/{first['id']}/read", me)
    assert again["read_at"] == read["read_at"] and again["version"] == 2
    status, page = await send(client, "GET", f"{URL}?unread=false", me)
    assert [n["id"] for n in page["data"]] == [first["id"]]
    status, result = await send(client, "POST", f"{URL}/read-all", me)
    assert status == 200 and result == {"updated": 2}
    status, page = await send(client, "GET", f"{URL}?unread=true", me)
    assert page["data"] == []
    status, page = await send(client, "GET", URL, me)
    assert len(page["data"]) == 3
    status, _ = await send(client, "GET", f"{URL}?unread=maybe", me)
    assert status == 422
    status, _ = await send(client, "POST", f"{URL}/not-a-uuid/read", me)
    assert status == 404
    status, _ = await send(client, "GET", URL, {})
    assert status == 401
