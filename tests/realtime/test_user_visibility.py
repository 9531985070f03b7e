"""Client users see their project teams, not the organisation's whole staff and clients.

Decided by row-level security on `users`, so every channel agrees: the list, one user,
project member lists, and the live events (`user.*` go to the organisation room, which a
client user's socket never joins; resync replays a project's rows only, and user rows
belong to no project). Search has no user results at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from db.pool import system_transaction
from tests.conftest import World
from tests.realtime.conftest import Sock

Client = TestClient[Any, Any]


async def _org(world: World) -> dict[str, Any]:
    """A client with one project and its team, and everyone the client must not see."""
    org = await world.org()
    mine, theirs = await world.client_record(org, "Mine"), await world.client_record(org, "Theirs")
    people = {
        "admin": await world.user(org, "admin"),
        "manager": await world.user(org, "project_manager"),
        "teammate": await world.user(org, "designer"),
        "colleague": await world.user(org, "designer"),  # staff on no project of the client
        "customer": await world.user(org, "client", client_id=mine),
        "rival": await world.user(org, "client", client_id=theirs),
        "rival_team": await world.user(org, "craftsman"),
    }
    project = await world.project(org, members=[people["teammate"]], client_id=mine)
    async with system_transaction(world.pool) as conn:
        await conn.execute("UPDATE projects SET project_manager_id = $1 WHERE id = $2",
                           people["manager"]["id"], project)
    await world.project(org, members=[people["rival_team"]], client_id=theirs)
    return {"org": org, "project": project, **people}


def _ids(*users: dict[str, Any]) -> set[str]:
    return {str(u["id"]) for u in users}


async def _listed(client: Client, headers: dict[str, str]) -> set[str]:
    response = await client.get("/api/v1/users?limit=100", headers=headers)
    assert response.status == 200, await response.text()
    return {u["id"] for u in (await response.json())["data"]}


async def test_a_client_user_lists_and_reads_only_their_project_team(
    client: Client, world: World, app: web.Application,
) -> None:
    s = await _org(world)
    headers = await world.headers(app, s["customer"])
    assert await _listed(client, headers) == _ids(s["customer"], s["manager"], s["teammate"])
    for name in ("customer", "manager", "teammate"):
        assert (await client.get(f"/api/v1/users/{s[name]['id']}", headers=headers)).status \
            == 200
    for name in ("admin", "colleague", "rival", "rival_team"):
        response = await client.get(f"/api/v1/users/{s[name]['id']}", headers=headers)
        assert response.status == 404, name
    members = await client.get(f"/api/v1/projects/{s['project']}/members", headers=headers)
    assert {m["user"]["id"] for m in (await members.json())["data"]} == _ids(s["teammate"])
    # Staff still see everyone of their organisation.
    staff = await _listed(client, await world.headers(app, s["colleague"]))
    assert staff == _ids(*(s[n] for n in ("admin", "manager", "teammate", "colleague",
                                          "customer", "rival", "rival_team")))


async def test_search_has_no_user_results(
    client: Client, world: World, app: web.Application,
) -> None:
    s = await _org(world)
    headers = await world.headers(app, s["customer"])
    response = await client.get("/api/v1/search?q=Designer&types=user", headers=headers)
    assert response.status == 422
    found = await (await client.get(f"/api/v1/search?q={s['colleague']['last_name']}",
                                    headers=headers)).json()
    assert all(hit["id"] != str(s["colleague"]["id"]) for hit in found["data"])


async def test_a_client_users_socket_gets_no_other_users_events(
    client: Client, world: World, app: web.Application, socks: Callable[[], Sock],
    pool: asyncpg.Pool,
) -> None:
    s = await _org(world)
    url = str(client.make_url("")).rstrip("/")
    watcher, control = socks(), socks()
    await watcher.connect(url, await world.token(app, s["customer"]))
    assert (await watcher.call("subscribe", {"project_id": str(s["project"])}))["ok"]
    await control.connect(url, await world.token(app, s["teammate"]))
    admin = await world.headers(app, s["admin"])
    for name in ("colleague", "rival", "teammate"):
        patched = await client.patch(f"/api/v1/users/{s[name]['id']}", headers=admin,
                                     json={"phone": "+90 212 555 0101"})
        assert patched.status == 200
    changed = _ids(s["colleague"], s["rival"], s["teammate"])
    await control.wait_for(lambda: {e["record_id"] for e in control.named("user.updated")}
                           >= changed)
    # A later change the watcher must get: events go out in commit order, so any
    # user.updated meant for the watcher has arrived before it.
    async with system_transaction(pool) as conn:
        await conn.execute("INSERT INTO tasks (org_id, project_id, name) "
                           "VALUES ($1, $2, 'Later')", s["org"], s["project"])
    await watcher.wait_for(lambda: bool(watcher.named("task.created")))
    assert watcher.named("user.updated") == []
    resynced = await watcher.call("resync", {"project_id": str(s["project"]),
                                             "cursor": _cursor_before_all()})
    assert resynced["ok"]
    assert [e for e in resynced.get("events", []) if e["resource"] == "user"] == []


def _cursor_before_all() -> str:
    from db.cursor_codec import encode_feed_cursor

    return encode_feed_cursor((0, 0))

