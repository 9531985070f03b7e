"""A project with one user of every role, plus outsiders, signed in for HTTP tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient

from db.pool import system_transaction
from tests.conftest import World

MEMBER_ROLES = ("project_manager", "designer", "coordinator", "craftsman")


@dataclass
class Team:
    """`users` and `headers` by role; `outsider` is a same-org designer who is not a
    member, `stranger` an admin of another organisation."""

    org: uuid.UUID
    project: uuid.UUID
    users: dict[str, dict[str, Any]]
    headers: dict[str, dict[str, str]]


async def make_team(world: World, client: TestClient[Any, Any]) -> Team:
    app = client.app
    org = await world.org()
    users: dict[str, dict[str, Any]] = {}
    for role in ("admin", *MEMBER_ROLES, "client"):
        users[role] = await world.user(org, role, first_name=role.title().replace("_", ""),
                                       last_name="Member", email=f"{role}@{org.hex[:8]}.test")
    users["outsider"] = await world.user(org, "designer", first_name="Otto", last_name="Side")
    users["stranger"] = await world.user(await world.org(), "admin", first_name="Stra",
                                         last_name="Nger")
    project = await world.project(org, members=[users[r] for r in MEMBER_ROLES],
                                  client_id=users["client"]["client_id"])
    async with system_transaction(world.pool) as conn:
        await conn.execute("UPDATE projects SET project_manager_id = $1 WHERE id = $2",
                           users["project_manager"]["id"], project)
    headers = {name: await world.headers(app, user) for name, user in users.items()}
    return Team(org, project, users, headers)


async def send(client: TestClient[Any, Any], method: str, path: str,
               headers: dict[str, str], body: Any = None,
               **extra_headers: str) -> tuple[int, Any]:
    """One request; (status, JSON body or None)."""
    all_headers = {**headers, **{k.replace("_", "-"): v for k, v in extra_headers.items()}}
    response = await client.request(method, path, json=body, headers=all_headers)
    data = await response.json() if response.status != 204 else None
    return response.status, data
