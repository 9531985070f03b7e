"""attachment.created / .updated / .deleted (a soft delete) reach the project's sockets as
the audit trail writes them; client users get nothing of a file on an internal comment."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from db.pool import system_transaction
from tests.conftest import World
from tests.realtime.conftest import InProcess, Sock
from tests.server.attachment_client import URL, declaration, png, send_bytes
from tests.server.project_team import make_team, send


async def test_attachment_events_reach_the_project(
        one_worker: InProcess, pool: asyncpg.Pool, world: World,
        socks: Callable[[], Sock]) -> None:
    app, http, url = one_worker.app, one_worker.http, one_worker.url
    team = await make_team(world, http)
    staff, client = socks(), socks()
    await staff.connect(url, await world.token(app, team.users["coordinator"]))
    await client.connect(url, await world.token(app, team.users["client"]))
    for sock in (staff, client):
        assert (await sock.call("subscribe", {"project_id": str(team.project)}))["ok"]

    headers, body = team.headers["designer"], png(32, 32)
    status, created = await send(http, "POST", URL, headers, declaration(team, body))
    assert status == 201
    for sock in (staff, client):
        await sock.wait_for(lambda s=sock: bool(s.named("attachment.created")))
        event = sock.named("attachment.created")[0]
        assert event["data"]["id"] == created["id"] and event["data"]["status"] == "pending"
        assert event["data"]["file_name"] == "plan.png"
    assert await send_bytes(http, headers, created, body) == 200
    status, _ = await send(http, "POST", f"{URL}/{created['id']}/complete", headers)
    assert status == 200
    await staff.wait_for(lambda: any(e["data"]["status"] == "ready"
                                     for e in staff.named("attachment.updated")))
    status, _ = await send(http, "DELETE", f"{URL}/{created['id']}", headers)
    assert status == 204
    await client.wait_for(lambda: bool(client.named("attachment.deleted")))
    assert client.named("attachment.deleted")[0]["record_id"] == created["id"]

    async with system_transaction(pool) as conn:
        comment = await conn.fetchval(
            "INSERT INTO comments (org_id, project_id, entity_type, entity_id, user_id, body) "
            "VALUES ($1, $2, 'project', $2, $3, 'internal note') RETURNING id",
            team.org, team.project, team.users["designer"]["id"])
    status, hidden = await send(http, "POST", URL, headers, {
        **declaration(team, body, "note.png"), "entity_type": "comment",
        "entity_id": str(comment)})
    assert status == 201
    await staff.wait_for(lambda: any(e["data"]["id"] == hidden["id"]
                                     for e in staff.named("attachment.created")))
    assert not any(e["data"]["id"] == hidden["id"] for e in client.named("attachment.created"))
