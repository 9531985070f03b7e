"""A 100,000-row export streams with bounded memory: the service's RSS (this process runs
it, and an export starts no other) grows by less than 50 MiB, for CSV and for XLSX."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp.test_utils import TestClient

from db.pool import system_transaction
from tests.conftest import World
from tests.memory import PeakRss
from tests.server.project_team import make_team

ROWS = 100_000
MIB = 1024 * 1024
BOUND = 50 * MIB


async def _feed_caught_up(world: World) -> None:
    """Wait for the change feed to read past the inserted rows' audit rows: its work is
    the insert's, not the export's, and would muddle the time measured."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        async with system_transaction(world.pool) as conn:
            behind = await conn.fetchval(
                "SELECT (SELECT max(id) FROM audit_logs) > last_id FROM realtime_cursor")
        if not behind:
            return
        await asyncio.sleep(0.5)


async def _export(client: TestClient[Any, Any], url: str,
                  headers: dict[str, str]) -> tuple[int, int, float]:
    """(bytes received, RSS growth at the peak, seconds), the body read and dropped."""
    async with PeakRss(children=True, every=0.02) as rss:
        started = time.perf_counter()
        response = await client.get(url, headers=headers)
        assert response.status == 200
        received = 0
        async for chunk in response.content.iter_chunked(64 * 1024):
            received += len(chunk)
        seconds = time.perf_counter() - started
    return received, rss.growth, seconds


async def test_a_100k_row_export_stays_within_50_mib(client: TestClient[Any, Any],
                                                      world: World) -> None:
    team = await make_team(world, client)
    async with system_transaction(world.pool, bulk=True) as conn:  # no row events
        await conn.execute(
            """INSERT INTO tasks (org_id, project_id, name, description, due_date,
                                  estimated_hours, tags)
               SELECT $1, $2, 'Task ' || g, repeat('x', 80), date '2026-01-01' + g % 365,
                      g % 1000 * 0.25, ARRAY['t' || g % 7]
               FROM generate_series(1, $3) g""", team.org, team.project, ROWS,
            timeout=600)  # the audit trigger writes a row per task
    # As autovacuum would after such an insert (as the owner: a role's ANALYZE skips it).
    await world.pool.execute("ANALYZE tasks")
    await _feed_caught_up(world)
    url = f"/api/v1/tasks?project_id={team.project}"
    pm = team.headers["project_manager"]
    report = {}
    for fmt in ("csv", "xlsx"):
        received, growth, seconds = await _export(client, f"{url}&format={fmt}", pm)
        report[fmt] = (received, growth / MIB, seconds)
        assert received > ROWS * (100 if fmt == "csv" else 50), fmt  # XLSX is zipped
        assert growth < BOUND, f"{fmt}: RSS grew {growth / MIB:.1f} MiB"
        # Issue #27 asks 10 s for the CSV; bench/exports.py measures it on a quiet
        # machine. Here only a bound a machine shared by other test runs keeps.
        assert seconds < 120, f"{fmt}: {seconds:.1f} s"
    print("\nexport 100k rows (bytes, MiB RSS growth, s):", report)
    async with system_transaction(world.pool) as conn:
        rows = await conn.fetch("SELECT details FROM audit_logs WHERE action = 'export' "
                                "AND user_id = $1", team.users["project_manager"]["id"])
    assert sorted(r["details"]["rows"] for r in rows) == [ROWS, ROWS]
