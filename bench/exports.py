"""Export speed: rows/s of the CSV and XLSX exports of one 100,000-task project, against a
plain `COPY (...) TO STDOUT` of the same rows and XlsxWriter alone writing the same typed
rows (and openpyxl's write-only mode, the alternative), all in the same run.

Standalone: creates its own database fpm_bench_exports_<random> on the local server,
migrates it, inserts the tasks with one SQL statement, runs VACUUM ANALYZE, starts the
real app (in-process, no Redis), exports through HTTP as a project manager (row-level
security and all), then drops the database. The service's RSS growth (peak during each
export, its processes summed: an XLSX export writes in a child process) is reported too.

    .venv/bin/python -m bench.exports [--rows 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import openpyxl
import xlsxwriter
from aiohttp.test_utils import TestClient, TestServer

from bench.scratch import caught_up, machine_line, project_with_manager, scratch_database
from bench.search_latency import machine
from db.pool import Actor, create_pool, dumps, system_transaction, transaction
from server.auth.sessions import start_session
from server.config import Settings
from server.exports.cells import columns_of
from server.exports.workbook import xlsx_cell
from server.rest import record
from server.routes.tasks import TaskOut
from tests.memory import PeakRss

TASKS = """
INSERT INTO tasks (org_id, project_id, name, description, status, due_date, start_date,
                   estimated_hours, actual_hours, progress, category, tags, created_at)
SELECT $1, $2, 'Task ' || g || ' of the fit-out', 'Install and finish item ' || g,
       (ARRAY['pending', 'in_progress', 'completed'])[1 + g % 3],
       date '2026-01-01' + g % 365, date '2025-12-01' - g % 300,
       g % 1000 * 0.25, CASE WHEN g % 2 = 0 THEN g % 500 * 0.5 END, g % 101,
       'Millwork', ARRAY['level ' || g % 9], now() - g * interval '1 second'
FROM generate_series(1, $3) g"""
# The export's own order (the list's default sort), as the same user.
SAME_ROWS = "SELECT * FROM tasks WHERE project_id = $1 ORDER BY created_at DESC, id DESC"


async def setup(pool: asyncpg.Pool, rows: int) -> tuple[dict[str, Any], uuid.UUID]:
    async with system_transaction(pool, bulk=True) as conn:
        org, user, project = await project_with_manager(conn)
        await conn.execute(TASKS, org, project, rows)
    async with pool.acquire() as conn:
        await conn.execute("VACUUM ANALYZE")
    return user, project


async def timed_copy(pool: asyncpg.Pool, actor: Actor, project: uuid.UUID) -> tuple[float, int]:
    """COPY of the same rows (same order, as the same user) to STDOUT, bytes counted."""
    size = 0

    async def sink(chunk: bytes) -> None:
        nonlocal size
        size += len(chunk)

    started = time.perf_counter()
    async with transaction(pool, actor, readonly=True) as conn:
        await conn.copy_from_query(SAME_ROWS, project, output=sink, format="csv", header=True)
    return time.perf_counter() - started, size


async def typed_rows(pool: asyncpg.Pool, actor: Actor, project: uuid.UUID) -> list[list[Any]]:
    """The rows as the XLSX export types them (prepared untimed)."""
    columns = columns_of(TaskOut)
    async with transaction(pool, actor, readonly=True) as conn:
        rows = await conn.fetch(SAME_ROWS, project)
    out = []
    for row in rows:
        data = json.loads(dumps(record(row)))
        data["scope_item_ids"] = data.get("scope_item_ids") or []
        out.append([xlsx_cell(data.get(c.name), c.kind) for c in columns])
    return out


def xlsxwriter_alone(rows: list[list[Any]], folder: Path) -> tuple[float, int]:
    columns = columns_of(TaskOut)
    started = time.perf_counter()
    book = xlsxwriter.Workbook(str(folder / "alone.xlsx"), {
        "constant_memory": True, "tmpdir": str(folder), "strings_to_formulas": False,
        "strings_to_numbers": False, "strings_to_urls": False})
    sheet = book.add_worksheet("tasks")
    formats = {"date": book.add_format({"num_format": "yyyy-mm-dd"}),
               "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
               "money": book.add_format({"num_format": "0.00"})}
    for c, column in enumerate(columns):
        sheet.write_string(0, c, column.name)
    kinds = [formats.get(c.kind) for c in columns]
    for r, row in enumerate(rows, 1):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, bool):
                sheet.write_boolean(r, c, value)
            elif isinstance(value, int | float):
                sheet.write_number(r, c, value, kinds[c])
            elif isinstance(value, dt.date):
                sheet.write_datetime(r, c, value, kinds[c])
            else:
                sheet.write_string(r, c, value)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, len(rows), len(columns) - 1)
    book.close()
    return time.perf_counter() - started, (folder / "alone.xlsx").stat().st_size


def openpyxl_alone(rows: list[list[Any]], folder: Path) -> tuple[float, int]:
    started = time.perf_counter()
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("tasks")
    sheet.append([c.name for c in columns_of(TaskOut)])
    for row in rows:
        sheet.append(row)
    book.save(folder / "openpyxl.xlsx")
    return time.perf_counter() - started, (folder / "openpyxl.xlsx").stat().st_size


async def timed_export(client: TestClient[Any, Any], url: str,
                       headers: dict[str, str]) -> tuple[float, int, float]:
    """(seconds, bytes, MiB of peak RSS growth of this process, which runs the service, and
    of its children: an XLSX export's writer process)."""
    async with PeakRss(children=True, every=0.02) as rss:
        started = time.perf_counter()
        response = await client.get(url, headers=headers)
        assert response.status == 200, await response.text()
        size = 0
        async for chunk in response.content.iter_chunked(256 * 1024):
            size += len(chunk)
        seconds = time.perf_counter() - started
    return seconds, size, rss.growth / 2**20


async def run(dsn: str, args: argparse.Namespace) -> list[str]:
    pool = await create_pool(dsn, min_size=1, max_size=4, command_timeout=1800)
    lines = []
    try:
        user, project = await setup(pool, args.rows)
        actor = Actor(user["id"], user["org_id"], user["role"])
        from server.app import create_app
        from server.collector import freeze_startup_heap, tune_collector

        with tempfile.TemporaryDirectory() as data:
            settings = Settings(database_url=dsn, redis_url=None, jwt_secret="b" * 48,
                                env_name="bench", data_dir=Path(data), pool_min_size=1,
                                pool_max_size=4)
            client = TestClient(TestServer(create_app(settings)))
            await client.start_server()
            # As `serve` runs: its collector settings, and the change leader done with the
            # set-up's audit rows (chaining 100,000 of them in this process would otherwise
            # share the first runs' CPU).
            tune_collector()
            freeze_startup_heap()
            await caught_up(pool, limit=600)
            try:
                token = await start_session(client.app, user_id=user["id"],
                                            org_id=user["org_id"], role=user["role"])
                headers = {"Authorization": f"Bearer {token.access_token}"}
                rows = await typed_rows(pool, actor, project)
                url = f"/api/v1/tasks?project_id={project}&format="
                best: dict[str, tuple[float, int, float]] = {}
                for _ in range(args.runs):
                    for name, measure in (
                            ("COPY TO STDOUT (csv)", lambda: timed_copy(pool, actor, project)),
                            ("CSV export", lambda: timed_export(client, url + "csv", headers)),
                            ("XLSX export", lambda: timed_export(client, url + "xlsx",
                                                                 headers))):
                        found = await measure()
                        seconds, size = found[0], found[1]
                        growth = found[2] if len(found) > 2 else 0.0
                        if name not in best or seconds < best[name][0]:
                            best[name] = (seconds, size, growth)
                        print(f"{name}: {seconds:.2f} s", flush=True)
                    with tempfile.TemporaryDirectory() as folder:
                        for name, alone in (("XlsxWriter alone", xlsxwriter_alone),
                                            ("openpyxl write-only alone", openpyxl_alone)):
                            seconds, size = alone(rows, Path(folder))
                            if name not in best or seconds < best[name][0]:
                                best[name] = (seconds, size, 0.0)
                            print(f"{name}: {seconds:.2f} s", flush=True)
            finally:
                await client.close()
        lines.append("| what | seconds | rows/s | MiB | RSS growth MiB |")
        lines.append("|---|---|---|---|---|")
        for name, (seconds, size, growth) in best.items():
            lines.append(f"| {name} | {seconds:.2f} | {args.rows / seconds:,.0f} | "
                         f"{size / 2**20:.1f} | {growth:.1f} |")
        ratio = best["XLSX export"][0] / best["XlsxWriter alone"][0]
        lines.append(f"\nXLSX export / XlsxWriter alone: {ratio:.2f}x; CSV export / COPY: "
                     f"{best['CSV export'][0] / best['COPY TO STDOUT (csv)'][0]:.1f}x")
    finally:
        await pool.close()
    return lines


async def main(args: argparse.Namespace) -> None:
    env = machine()
    async with scratch_database(args.admin_dsn, "exports") as dsn:
        lines = await run(dsn, args)
    print(machine_line(env))
    print(f"- {args.rows:,} tasks of one project, best of {args.runs} runs, "
          f"exported as its project manager over HTTP (in-process server, no Redis)\n")
    print("\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-dsn", default=os.environ.get(
        "BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
