"""What one PATCH of a task costs the database: the statements it sends, counted with
asyncpg's own query logger on the pool's real connections. The list is fixed here so that a
change adding a round trip to the hot write path fails loudly (issue 25)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from server.keys import POOL
from tests.conftest import World
from tests.server.api import caller, counting_statements

# BEGIN with the actor's settings (one simple query), the guarded UPDATE ... RETURNING, what
# the transaction changed (for the writer's own cache invalidation), COMMIT.
EXPECTED = ["BEGIN + settings", "UPDATE tasks", "fpm_tx_changes", "COMMIT"]


def _kind(sql: str) -> str:
    text = " ".join(sql.split())
    if text.startswith("BEGIN; SELECT set_config('role'"):
        return "BEGIN + settings"
    for known in EXPECTED[1:]:
        if re.search(rf"\b{re.escape(known)}\b", text, re.IGNORECASE):
            return known
    return text[:80]


async def test_a_task_patch_is_four_statements(client: TestClient[Any, Any],
                                               world: World) -> None:
    org = await world.org()
    pm = await caller(client, world, org, "project_manager")
    project = await world.project(org, members=[pm.user])
    status, task = await pm.post("/api/v1/tasks", {"project_id": str(project), "name": "Grid"})
    assert status == 201, task
    path = f"/api/v1/tasks/{task['id']}"
    # Warm: the session is cached and the statements prepared after the first write.
    status, task = await pm.patch(path, {"progress": 10})
    assert status == 200, task
    async with counting_statements(client.app[POOL]) as counter:
        for progress in (20, 30):
            counter.reset()
            status, task = await pm.patch(path, {"progress": progress},
                                          headers={"If-Match": f'"{task["version"]}"'})
            assert status == 200, task
            assert [_kind(q) for q in counter.queries] == EXPECTED, counter.queries
