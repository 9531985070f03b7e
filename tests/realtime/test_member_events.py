"""Member changes reach sockets: a role change as `project_member.updated`, a removal's
unassigned tasks as `task.updated`, and the manager's note as a live `notification`."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from tests.conftest import World
from tests.realtime.conftest import InProcess, Sock


async def test_role_change_and_removal_are_live(
        one_worker: InProcess, pool: asyncpg.Pool, world: World,
        socks: Callable[[], Sock]) -> None:
    app, http, url = one_worker.app, one_worker.http, one_worker.url
    org = await world.org()
    admin = await world.user(org, "admin")
    pm = await world.user(org, "project_manager")
    worker = await world.user(org, "craftsman")
    project = await world.project(org, members=[pm, worker])
    async with pool.acquire() as conn:
        await conn.execute("UPDATE projects SET project_manager_id = $1 WHERE id = $2",
                           pm["id"], project)
        task = await conn.fetchval(
            "INSERT INTO tasks (org_id, project_id, name, assigned_to) VALUES ($1, $2, 'Tile', "
            "$3) RETURNING id", org, project, worker["id"])
    sock = socks()
    await sock.connect(url, await world.token(app, pm))
    assert (await sock.call("subscribe", {"project_id": str(project)}))["ok"]
    headers = await world.headers(app, admin)
    member_url = f"/api/v1/projects/{project}/members/{worker['id']}"

    response = await http.patch(member_url, json={"role": "coordinator"}, headers=headers)
    assert response.status == 200, await response.text()
    await sock.wait_for(lambda: bool(sock.named("project_member.updated")))
    event = sock.named("project_member.updated")[0]
    assert event["changed_fields"] == ["role"] and event["data"]["role"] == "coordinator"

    response = await http.delete(member_url, headers=headers)
    assert response.status == 204
    await sock.wait_for(lambda: bool(sock.named("notification")))
    note = sock.named("notification")[0]
    assert note["type"] == "member_removed" and note["data"]["task_ids"] == [str(task)]
    await sock.wait_for(lambda: bool(sock.named("project_member.deleted")))
    updates = [e for e in sock.named("task.updated") if e["record_id"] == str(task)]
    assert updates and updates[0]["data"]["assigned_to"] is None
