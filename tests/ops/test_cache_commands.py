"""`formula-pm cache flush --org` drops one organisation's cached reads on every worker
and no other organisation's; `cache stats` shows what the workers published."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from server.cache.store import TOMBSTONE_TTL
from server.config import Settings
from tests.conftest import World
from tests.ops.conftest import run_cli
from tests.waiting import eventually


async def _name(client: TestClient[Any, Any], headers: dict[str, str], pid: uuid.UUID) -> str:
    response = await client.get(f"/api/v1/projects/{pid}", headers=headers)
    assert response.status == 200
    return str((await response.json())["name"])


async def _rename_unseen(database_url: str, pid: uuid.UUID, name: str) -> None:
    """Change a row with no trigger (no audit row, so no invalidation): the cache is stale."""
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute("UPDATE projects SET name = $1 WHERE id = $2", name, pid)
    finally:
        await conn.close()


async def test_flush_one_organisation_on_two_workers(
    settings: Settings, world: World, database_url: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from server.app import create_app

    org_a, org_b = await world.org("flush-a"), await world.org("flush-b")
    admin_a, admin_b = await world.user(org_a, "admin"), await world.user(org_b, "admin")
    project_a = await world.project(org_a, name="A before")
    project_b = await world.project(org_b, name="B before")
    async with AsyncExitStack() as stack:
        workers = []
        for number in (1, 2):
            app = create_app(settings.model_copy(update={"worker_name": f"flush-{number}",
                                                          "cache_stats_interval": 0.2}))
            client = await stack.enter_async_context(TestClient(TestServer(app)))
            workers.append((client, await world.headers(app, admin_a),
                            await world.headers(app, admin_b)))
        # The creations' invalidations leave tombstones that refuse fills for a while.
        await asyncio.sleep(TOMBSTONE_TTL + 1)
        for client, head_a, head_b in workers:  # fill both workers' reads
            assert await _name(client, head_a, project_a) == "A before"
            assert await _name(client, head_b, project_b) == "B before"
        await _rename_unseen(database_url, project_a, "A after")
        await _rename_unseen(database_url, project_b, "B after")
        for client, head_a, head_b in workers:
            assert await _name(client, head_a, project_a) == "A before"  # cached
            assert await _name(client, head_b, project_b) == "B before"

        monkeypatch.setenv("DATABASE_URL", database_url)
        monkeypatch.setenv("REDIS_URL", settings.redis_url or "")
        monkeypatch.setenv("FPM_ENV", settings.env_name)
        monkeypatch.setenv("JWT_SECRET", settings.jwt_secret)
        assert await run_cli(["cache", "flush", "--org", "flush-a"]) == 0
        assert "flushed organisation flush-a" in capsys.readouterr().out
        for client, head_a, head_b in workers:
            assert await _name(client, head_a, project_a) == "A after"
            assert await _name(client, head_b, project_b) == "B before"  # untouched

        assert await run_cli(["cache", "stats", "--json"]) == 0
        out = capsys.readouterr().out
        assert '"flush-1"' in out and '"flush-2"' in out and '"hit_rate"' in out

        assert await run_cli(["cache", "flush"]) == 0  # everything: a new epoch
        assert "epoch" in capsys.readouterr().out
        for client, _, head_b in workers:
            await _wait_for(lambda c=client, h=head_b: _name(c, h, project_b), "B after")
        assert await run_cli(["cache", "flush", "--org", "nobody"]) == 2


async def _wait_for(read: Any, expected: str) -> None:
    async def seen() -> bool:
        return bool(await read() == expected)

    # Workers follow a new epoch within a second.
    await eventually(seen, limit=3, interval=0.1, explain=f"expected {expected!r}")
