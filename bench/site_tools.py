"""Procurement schedule and scope readiness latency: one project with 2,000 material specs
(each with a schedule), 2,000 scope items each linked to a shop drawing and a spec; p50 /
p99 of `GET /api/v1/projects/{id}/procurement` and `…/readiness` pages of 200 (the largest
page) and of the whole list walked through its cursors, and the time of one at-risk check
over the 2,000 specs.

Standalone: creates its own database fpm_bench_site_<random> on the local server, migrates
it, inserts the rows with SQL, runs VACUUM ANALYZE, starts the real app (in-process, no
Redis), reads as a project manager over HTTP (row-level security and all), then drops the
database. Fails (exit 1) when a page's p99 is 100 ms or more.

    .venv/bin/python -m bench.site_tools [--specs 2000] [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from bench.scratch import caught_up, machine_line, project_with_manager, scratch_database
from bench.search_latency import machine
from db.pool import create_pool, system_transaction
from server.auth.sessions import start_session
from server.config import Settings

BUDGET_MS = 100.0
ROWS = (
    """INSERT INTO material_specs (org_id, project_id, code, description, status,
                                   required_on_site, lead_time_days, design_review_days,
                                   internal_review_days, supplier_name)
       SELECT $1, $2, 'MS-' || n, 'Material ' || n || ', walnut veneer 0.6 mm',
              (ARRAY['pending', 'pending_approval', 'approved', 'ordered',
                     'delivered'])[1 + n % 5],
              current_date + (n % 120 - 30), n % 40, n % 10, n % 5, 'Supplier ' || n % 17
       FROM generate_series(1, $3) n""",
    """INSERT INTO scope_items (org_id, project_id, scope_group_id, code, name)
       SELECT $1, $2, (SELECT id FROM scope_groups WHERE project_id = $2), 'SI-' || n,
              'Item ' || lpad(n::text, 5, '0')
       FROM generate_series(1, $3) n""",
    """INSERT INTO shop_drawings (org_id, project_id, drawing_number, title, status)
       SELECT $1, $2, 'SD-' || n, 'Drawing ' || n,
              (ARRAY['draft', 'submitted', 'approved', 'approved_as_noted'])[1 + n % 4]
       FROM generate_series(1, $3) n""",
    """INSERT INTO item_links (org_id, project_id, scope_item_id, material_spec_id)
       SELECT $1, $2, i.id, s.id FROM scope_items i
       JOIN material_specs s ON s.project_id = $2 AND substr(s.code, 4) = substr(i.code, 4)
       WHERE i.project_id = $2 AND $3 > 0""",
    """INSERT INTO item_links (org_id, project_id, scope_item_id, shop_drawing_id)
       SELECT $1, $2, i.id, d.id FROM scope_items i
       JOIN shop_drawings d ON d.project_id = $2
            AND substr(d.drawing_number, 4) = substr(i.code, 4)
       WHERE i.project_id = $2 AND $3 > 0""",
)


async def setup(pool: asyncpg.Pool, specs: int) -> tuple[dict[str, Any], uuid.UUID]:
    async with system_transaction(pool, bulk=True) as conn:
        org, user, project = await project_with_manager(conn)
        await conn.execute("INSERT INTO scope_groups (org_id, project_id, name) "
                           "VALUES ($1, $2, 'Joinery')", org, project)
        for statement in ROWS:
            await conn.execute(statement, org, project, specs)
        await conn.execute("SELECT fpm_scope_readiness(ARRAY(SELECT id FROM scope_items "
                           "WHERE project_id = $1))", project)
    async with pool.acquire() as conn:
        await conn.execute("VACUUM ANALYZE")
    return user, project


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _timed(client: TestClient[Any, Any], url: str, headers: dict[str, str]) -> float:
    start = time.perf_counter()
    response = await client.get(url, headers=headers)
    body = await response.read()
    assert response.status == 200, body[:300]
    return (time.perf_counter() - start) * 1000


async def _walk(client: TestClient[Any, Any], url: str, headers: dict[str, str]) -> tuple[
        float, int]:
    start, cursor, rows = time.perf_counter(), None, 0
    while True:
        response = await client.get(url + (f"&cursor={cursor}" if cursor else ""),
                                    headers=headers)
        page = await response.json()
        rows += len(page["data"])
        cursor = page["next_cursor"]
        if not cursor:
            return (time.perf_counter() - start) * 1000, rows


async def run(dsn: str, args: argparse.Namespace) -> tuple[list[str], bool]:
    pool = await create_pool(dsn, min_size=1, max_size=4, command_timeout=1800)
    lines: list[str] = []
    ok = True
    try:
        user, project = await setup(pool, args.specs)
        from server.app import create_app
        from server.collector import freeze_startup_heap, tune_collector
        from server.procurement import check

        with tempfile.TemporaryDirectory() as data:
            settings = Settings(database_url=dsn, redis_url=None, jwt_secret="b" * 48,
                                env_name="bench", data_dir=Path(data), pool_min_size=1,
                                pool_max_size=4)
            client = TestClient(TestServer(create_app(settings)))
            await client.start_server()
            # The collector as `serve` sets it (FPM_GC_TUNING): the heap built so far frozen,
            # the youngest generation collected every 10,000 allocations.
            tune_collector()
            freeze_startup_heap()
            # The rows inserted above are thousands of audit rows the app's change leader
            # turns into events (and chains) when it starts: measured during that catch-up,
            # the first list's tail was the leader's work, not the list's.
            await caught_up(pool)
            try:
                token = await start_session(client.app, user_id=user["id"],
                                            org_id=user["org_id"], role=user["role"])
                headers = {"Authorization": f"Bearer {token.access_token}"}
                lines.append("| request | p50 ms | p99 ms | max ms |")
                lines.append("|---|---|---|---|")
                for name in ("procurement", "readiness"):
                    url = f"/api/v1/projects/{project}/{name}?limit=200"
                    for _ in range(20):  # warm
                        await _timed(client, url, headers)
                    times = [await _timed(client, url, headers) for _ in range(args.requests)]
                    p99 = _pct(times, 0.99)
                    ok &= p99 < BUDGET_MS
                    lines.append(f"| {name}, page of 200 | {statistics.median(times):.1f} | "
                                 f"{p99:.1f} | {max(times):.1f} |")
                    walks = [await _walk(client, url, headers) for _ in range(args.walks)]
                    assert all(rows == args.specs for _, rows in walks), walks
                    whole = [w for w, _ in walks]
                    lines.append(f"| {name}, all {args.specs:,} rows ({args.specs // 200} "
                                 f"pages) | {statistics.median(whole):.1f} | "
                                 f"{_pct(whole, 0.99):.1f} | {max(whole):.1f} |")
                checks = []
                for _ in range(5):
                    start = time.perf_counter()
                    report = await check(client.app)
                    checks.append((time.perf_counter() - start) * 1000)
                lines.append(f"\nAt-risk check over {report.checked:,} specs: median "
                             f"{statistics.median(checks):.0f} ms (first run flipped what the "
                             "inserted rows left unflagged).")
            finally:
                await client.close()
    finally:
        await pool.close()
    return lines, ok


async def main(args: argparse.Namespace) -> int:
    env = machine()
    async with scratch_database(args.admin_dsn, "site") as dsn:
        lines, ok = await run(dsn, args)
    print(machine_line(env))
    print(f"- one project: {args.specs:,} material specs with schedules, {args.specs:,} scope "
          f"items each linked to a shop drawing and a spec; {args.requests} requests per "
          "list as its project manager over HTTP (in-process server, no Redis)\n")
    print("\n".join(lines))
    if not ok:
        print(f"\nFAILED: a page's p99 is {BUDGET_MS:.0f} ms or more")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-dsn", default=os.environ.get(
        "BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--specs", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--walks", type=int, default=10)
    sys.exit(asyncio.run(main(parser.parse_args())))
