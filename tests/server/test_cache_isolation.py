"""Every cached read x every kind of outsider, with the cache warm on two workers.

A cache hit runs no query and so no row-level security: what keeps a cached body from an
admin of another organisation, or from a colleague who is not on the project, is the
organisation and visibility check made on every hit. Each read below is first served to a
project member through both workers (two apps on the same Redis and database), so its
entries are in the cache; then each outsider asks both workers and must get a 404, never
the cached body.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient

from server.app import create_app
from server.auth.sessions import start_session
from server.auth.tokens import issue_access_token, signing_keys
from server.cache.keys import org_generation_key, visibility_key
from server.config import Settings
from server.keys import CACHE
from tests.conftest import World
from tests.server.project_team import Team, make_team, send

Client = TestClient[Any, Any]
Read = Callable[[Client, Team], Awaitable[str]]


async def _project(client: Client, team: Team) -> str:
    return f"/api/v1/projects/{team.project}"


async def _summary(client: Client, team: Team) -> str:
    return f"/api/v1/projects/{team.project}/summary"


async def _task(client: Client, team: Team) -> str:
    status, task = await send(client, "POST", "/api/v1/tasks", team.headers["project_manager"],
                              {"project_id": str(team.project), "name": "Walnut panelling"})
    assert status == 201, task
    return f"/api/v1/tasks/{task['id']}"


async def _scope_item(client: Client, team: Team) -> str:
    pm = team.headers["project_manager"]
    status, group = await send(client, "POST", "/api/v1/scope-groups", pm,
                               {"project_id": str(team.project), "name": "Millwork"})
    assert status == 201, group
    status, item = await send(client, "POST", "/api/v1/scope-items", pm, {
        "project_id": str(team.project), "scope_group_id": group["id"],
        "name": "Walnut reception desk", "quantity": "1", "unit": "pcs"})
    assert status == 201, item
    return f"/api/v1/scope-items/{item['id']}"


async def _client_record(client: Client, team: Team) -> str:
    return f"/api/v1/clients/{team.users['client']['client_id']}"


async def _search(client: Client, team: Team) -> str:
    await _task(client, team)
    return f"/api/v1/search?q=Walnut&project_id={team.project}"


READS: dict[str, Read] = {
    "project": _project, "summary": _summary, "task": _task, "scope_item": _scope_item,
    "client": _client_record, "search": _search,
}
# Who must never get the member's cached body: an admin of another organisation, a
# colleague who is not on the project, and a client user of another client company.
OUTSIDERS = ("stranger", "outsider", "other_client")


def outsiders(read: str) -> tuple[str, ...]:
    """Client companies are org-wide records: every colleague on staff may read them."""
    return tuple(o for o in OUTSIDERS if read != "client" or o != "outsider")


async def _workers(client: Client, aiohttp_client: Any, settings: Settings) -> list[Client]:
    """The test's worker and a second one on the same Redis and database."""
    return [client, await aiohttp_client(create_app(settings))]


async def _with_other_client(world: World, client: Client) -> Team:
    team = await make_team(world, client)
    other = await world.user(team.org, "client",
                             client_id=await world.client_record(team.org, "Rival Co"))
    team.users["other_client"] = other
    team.headers["other_client"] = await world.headers(client.app, other)
    return team


async def _warm(workers: list[Client], url: str, headers: dict[str, str]) -> Any:
    """Read `url` twice on each worker as a member; the answers agree and hit the cache."""
    bodies = []
    for http in workers:
        for _ in range(2):
            status, body = await send(http, "GET", url, headers)
            assert status == 200, body
            bodies.append(body)
    assert all(b == bodies[0] for b in bodies)
    return bodies[0]


@pytest.mark.parametrize("read", sorted(READS))
async def test_a_warm_cached_read_is_served_to_no_outsider(
    read: str, client: Client, world: World, aiohttp_client: Any, settings: Settings,
) -> None:
    workers = await _workers(client, aiohttp_client, settings)
    team = await _with_other_client(world, client)
    url = await READS[read](client, team)
    cached = await _warm(workers, url, team.headers["project_manager"])
    hits = [http.app[CACHE].stats()["hits"] for http in workers]
    for who in outsiders(read):
        for http in workers:
            status, body = await send(http, "GET", url, team.headers[who])
            assert status == 404, (read, who, body)
            assert body != cached and body["status"] == 404
    # The member still reads it (from the cache) on both workers afterwards.
    assert await _warm(workers, url, team.headers["project_manager"]) == cached
    assert all(http.app[CACHE].stats()["hits"] > before
               for http, before in zip(workers, hits, strict=True))


async def test_a_visible_set_of_another_organisation_is_never_used(
    client: Client, world: World, app: web.Application, settings: Settings,
) -> None:
    """The cached visible set names its organisation: an entry without it (or of another
    organisation) under a matching generation number is recomputed, not believed."""
    team = await make_team(world, client)
    outsider = team.users["outsider"]
    url = f"/api/v1/projects/{team.project}/summary"
    assert (await send(client, "GET", url, team.headers["project_manager"]))[0] == 200
    redis = aioredis.from_url(settings.redis_url or "")
    try:
        prefix = app[CACHE].prefix
        generation = int(await redis.get(prefix + org_generation_key(team.org)) or 0)
        stranger_org = str(team.users["stranger"]["org_id"])
        for forged in ({"g": generation, "p": "*"},
                       {"o": stranger_org, "g": generation, "p": "*"}):
            await redis.set(prefix + visibility_key(outsider["id"]), json.dumps(forged))
            status, body = await send(client, "GET", url, team.headers["outsider"])
            assert status == 404, body
    finally:
        await redis.aclose()


async def test_cached_session_facts_of_another_organisation_are_refused(
    client: Client, world: World, app: web.Application, settings: Settings,
) -> None:
    """A token whose organisation is not its session's (cached facts) is no identity."""
    team = await make_team(world, client)
    pm = team.users["project_manager"]
    pair = await start_session(app, user_id=pm["id"], org_id=pm["org_id"], role=pm["role"])
    url = f"/api/v1/projects/{team.project}"
    good = {"Authorization": f"Bearer {pair.access_token}"}
    assert (await send(client, "GET", url, good))[0] == 200  # the session facts are cached
    forged = issue_access_token(signing_keys(settings.jwt_secret), user_id=pm["id"],
                                org_id=team.users["stranger"]["org_id"], role="admin",
                                session_id=pair.session_id, ttl=60)
    status, _ = await send(client, "GET", url, {"Authorization": f"Bearer {forged}"})
    assert status == 401
