"""Checks across fields (an end before its start) name the field to change, never `body`,
whether the model sees both dates or the database compares one with the stored other."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import World
from tests.server.api import fields
from tests.server.project_team import make_team, send

EARLY, LATE = "2026-04-01", "2026-05-01"


async def test_date_order_names_the_end_field(client: TestClient[Any, Any],
                                              world: World) -> None:
    team = await make_team(world, client)
    pm = team.headers["project_manager"]
    project = str(team.project)
    status, group = await send(client, "POST", "/api/v1/scope-groups", pm,
                               {"project_id": project, "name": "joinery"})
    assert status == 201
    cases = [  # (collection, create body, end field)
        ("/api/v1/projects", {"name": "P", "type": "office"}, "end_date"),
        ("/api/v1/tasks", {"project_id": project, "name": "T"}, "due_date"),
        ("/api/v1/scope-items", {"project_id": project, "scope_group_id": group["id"],
                                 "name": "S"}, "end_date"),
    ]
    for url, base, end in cases:
        status, problem = await send(client, "POST", url, pm,
                                     {**base, "start_date": LATE, end: EARLY})
        assert status == 422 and fields(problem) == {end}, (url, problem)
        assert "start_date" in problem["errors"][0]["message"]
        status, record = await send(client, "POST", url, pm, {**base, "start_date": LATE})
        assert status == 201, record
        # One side in the body, the other stored: the database's check answers.
        status, problem = await send(client, "PATCH", f"{url}/{record['id']}", pm,
                                     {end: EARLY})
        assert status == 422 and fields(problem) == {end}, (url, problem)
        status, problem = await send(client, "PATCH", f"{url}/{record['id']}", pm,
                                     {end: LATE, "start_date": "2026-06-01"})
        assert status == 422 and fields(problem) == {end}, (url, problem)
        status, changed = await send(client, "PATCH", f"{url}/{record['id']}", pm, {end: LATE})
        assert status == 200 and changed[end] == LATE
