"""Snag list latency: a project with 5,000 snags (pins, assignees, a photo on every third),
listed over HTTP by its project manager, a site member and a client user: p50/p99 of the
default page (50), a full page (200), the overdue filter, an assignee filter, a drawing's
pins and a deep keyset page.

Standalone: creates its own database fpm_bench_punch_<random> on the local server,
migrates it, inserts the snags with one SQL statement, runs VACUUM ANALYZE, starts the real
app (in-process, no Redis) and measures each request end to end (routing, authentication,
row-level security, JSON), then drops the database. Target: p99 under 100 ms.

    .venv/bin/python -m bench.punch_items [--snags 5000] [--runs 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from bench.scratch import machine_line, scratch_database
from bench.search_latency import machine
from db.pool import create_pool, system_transaction
from server.auth.sessions import start_session
from server.config import Settings

USERS = """
INSERT INTO users (org_id, email, password_hash, first_name, last_name, role, client_id)
VALUES ($1, 'pm@bench.test', 'x', 'Pat', 'Manager', 'project_manager', NULL),
       ($1, 'site@bench.test', 'x', 'Sam', 'Site', 'craftsman', NULL),
       ($1, 'client@bench.test', 'x', 'Cem', 'Client', 'client', $2)
RETURNING id, org_id, role"""
SNAGS = """
INSERT INTO punch_items (org_id, project_id, number, title, description, location, room,
                         trade, priority, category, due_on, status, drawing_id,
                         drawing_revision_id, pin_x, pin_y, assignee_user_ids,
                         assignee_client_id, manager_id, final_approver_id, created_by)
SELECT $1, $2, g, 'Snag ' || g || ': touch up finish', 'Found on the walk of level ' || g % 9,
       'Level ' || g % 9, 'Room ' || g % 120,
       (ARRAY['Painting', 'Joinery', 'Electrical', 'Flooring', 'Ceilings'])[1 + g % 5],
       (ARRAY['low', 'medium', 'high', 'urgent'])[1 + g % 4],
       CASE WHEN g % 4 = 0 THEN 'client_preference' ELSE 'defect' END,
       date '2026-11-01' + g % 90,
       (ARRAY['initiated', 'work_required', 'ready_for_review', 'ready_to_close', 'closed',
              'work_not_accepted', 'in_dispute', 'not_accepted'])[1 + g % 8],
       $3, $4, (g % 97) / 97.0, (g % 89) / 89.0,
       CASE WHEN g % 3 = 0 THEN ARRAY[$5::uuid] ELSE '{}'::uuid[] END,
       CASE WHEN g % 3 <> 0 THEN $6::uuid END, $7, $7, $7
FROM generate_series(1, $8) g"""
PHOTOS = """
INSERT INTO attachments (org_id, project_id, entity_type, entity_id, file_name, mime_type,
                         size, storage_key, status)
SELECT org_id, project_id, 'punch_item', id, 'photo.jpg', 'image/jpeg', 1000,
       gen_random_uuid()::text, 'ready'
FROM punch_items WHERE project_id = $1 AND number % 3 = 0"""


async def setup(pool: asyncpg.Pool, snags: int) -> dict[str, Any]:
    async with system_transaction(pool, bulk=True) as conn:
        org = await conn.fetchval(
            "INSERT INTO organizations (name, slug) VALUES ('Bench', $1) RETURNING id",
            f"bench-{secrets.token_hex(3)}")
        client_id = await conn.fetchval(
            "INSERT INTO clients (org_id, name) VALUES ($1, 'Bench Client') RETURNING id", org)
        users = {r["role"]: dict(r) for r in await conn.fetch(USERS, org, client_id)}
        project = await conn.fetchval(
            "INSERT INTO projects (org_id, name, type, client_id, project_manager_id) "
            "VALUES ($1, 'Bench', 'fit_out', $2, $3) RETURNING id",
            org, client_id, users["project_manager"]["id"])
        for role in ("project_manager", "craftsman"):
            await conn.execute("INSERT INTO project_members (org_id, project_id, user_id, role) "
                               "VALUES ($1, $2, $3, $4)", org, project, users[role]["id"], role)
        drawing = await conn.fetchval(
            "INSERT INTO drawings (org_id, project_id, number, title) "
            "VALUES ($1, $2, 'A-101', 'Plan') RETURNING id", org, project)
        revision = await conn.fetchval(
            "INSERT INTO drawing_revisions (org_id, project_id, drawing_id, revision, status, "
            "published_at, is_current) VALUES ($1, $2, $3, 'C01', 'A1', now(), true) "
            "RETURNING id", org, project, drawing)
        await conn.execute("UPDATE drawings SET current_revision_id = $1 WHERE id = $2",
                           revision, drawing)
        await conn.execute(SNAGS, org, project, drawing, revision, users["craftsman"]["id"],
                           client_id, users["project_manager"]["id"], snags)
        await conn.execute(PHOTOS, project)
    async with pool.acquire() as conn:
        await conn.execute("VACUUM ANALYZE")
    return {"org": org, "project": project, "drawing": drawing, "users": users}


async def timed(client: TestClient[Any, Any], url: str, headers: dict[str, str],
                runs: int) -> tuple[list[float], int]:
    times: list[float] = []
    rows = 0
    for _ in range(runs):
        started = time.perf_counter()
        response = await client.get(url, headers=headers)
        body = await response.json()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status == 200, body
        rows = len(body["data"])
    return times, rows


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(dsn: str, args: argparse.Namespace) -> list[str]:
    pool = await create_pool(dsn, min_size=1, max_size=4)
    lines = ["| who | request | rows | p50 ms | p99 ms | max ms |", "|---|---|---|---|---|---|"]
    try:
        world = await setup(pool, args.snags)
        from server.app import create_app

        with tempfile.TemporaryDirectory() as data:
            settings = Settings(database_url=dsn, redis_url=None, jwt_secret="b" * 48,
                                env_name="bench", data_dir=Path(data), pool_min_size=1,
                                pool_max_size=4)
            client = TestClient(TestServer(create_app(settings)))
            await client.start_server()
            try:
                base = f"/api/v1/punch-items?project_id={world['project']}"
                site: uuid.UUID = world["users"]["craftsman"]["id"]
                requests = [
                    ("default page (50)", base),
                    ("full page (200)", f"{base}&limit=200"),
                    ("overdue", f"{base}&overdue=true&limit=200"),
                    ("assignee", f"{base}&assignee={site}&limit=200"),
                    ("a drawing's pins", f"{base}&drawing_id={world['drawing']}&limit=200"),
                    ("status, by number desc", f"{base}&status=in_dispute&sort=-number"),
                ]
                for role in ("project_manager", "craftsman", "client"):
                    user = world["users"][role]
                    token = await start_session(client.app, user_id=user["id"],
                                                org_id=user["org_id"], role=role)
                    headers = {"Authorization": f"Bearer {token.access_token}"}
                    # a deep page: the cursor of the page that starts at 4,801
                    response = await client.get(f"{base}&limit=200", headers=headers)
                    cursor = (await response.json())["next_cursor"]
                    for _ in range(22):
                        if cursor is None:
                            break
                        response = await client.get(f"{base}&limit=200&cursor={cursor}",
                                                    headers=headers)
                        cursor = (await response.json())["next_cursor"]
                    todo = list(requests)
                    if cursor is not None:
                        todo.append(("deep page (200)", f"{base}&limit=200&cursor={cursor}"))
                    for name, url in todo:
                        await timed(client, url, headers, 5)  # warm
                        times, rows = await timed(client, url, headers, args.runs)
                        lines.append(f"| {role} | {name} | {rows} | "
                                     f"{statistics.median(times):.1f} | "
                                     f"{pct(times, 0.99):.1f} | {max(times):.1f} |")
                        print(lines[-1], flush=True)
            finally:
                await client.close()
    finally:
        await pool.close()
    return lines


async def main(args: argparse.Namespace) -> None:
    env = machine()
    async with scratch_database(args.admin_dsn, "punch") as dsn:
        lines = await run(dsn, args)
    print(machine_line(env))
    print(f"- {args.snags:,} snags of one project, {args.runs} requests each, over HTTP "
          "(in-process server, no Redis)\n")
    print("\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-dsn", default=os.environ.get(
        "BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--snags", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=200)
    asyncio.run(main(parser.parse_args()))
