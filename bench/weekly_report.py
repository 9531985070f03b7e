"""Weekly report speed: seconds per PDF report of a 1,000-task project, over HTTP as its
project manager (row-level security and all), split into reading the data (one read-only
transaction) and drawing the PDF (ReportLab, in the child process); the event loop's worst
lag while reports are drawn; and N reports asked for at once.

Standalone: creates its own database fpm_bench_weekly_<random> on the local server, migrates
it, writes a project with 1,000 tasks (created over 60 days, completed along the way), 150
shop drawings, 200 material specs, 40 drawings with a revision published in the last week
(24 with a thumbnail in file:// storage), 30 overdue RFIs, and the project's progress as
audit rows over the 60 days; starts the real app (in-process, no Redis), asks for the report,
then drops the database.

    .venv/bin/python -m bench.weekly_report [--tasks 1000] [--runs 5] [--concurrent 4]
        [--picture docs/weekly-report.png]

`--picture` writes the charts page of the last report, rendered by PDFium, to that file.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import secrets
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pypdfium2 as pdfium
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image, ImageDraw

from bench.scratch import machine_line, scratch_database
from bench.search_latency import machine
from db.pool import Actor, create_pool, system_transaction, transaction
from server.auth.sessions import start_session
from server.config import Settings
from server.keys import STORAGE
from server.reports import weekly
from server.reports.render import render
from storage.keys import object_key, thumbnail_key

TASKS = """
INSERT INTO tasks (org_id, project_id, name, status, priority, assigned_to, due_date,
                   progress, category, created_at, completed_at)
SELECT $1, $2, 'Task ' || g || ' of the fit-out',
       s.status, (ARRAY['low', 'medium', 'high', 'urgent'])[1 + g % 4],
       ($4::uuid[])[1 + g % cardinality($4::uuid[])],
       current_date - 20 + g % 60, CASE WHEN s.status = 'completed' THEN 100 ELSE g % 90 END,
       (ARRAY['Millwork', 'Joinery', 'MEP', 'Finishes'])[1 + g % 4],
       now() - interval '60 days' + (g % 50) * interval '1 day',
       CASE WHEN s.status = 'completed'
            THEN now() - interval '55 days' + (g % 55) * interval '1 day' END
FROM generate_series(1, $3) g,
     LATERAL (SELECT CASE WHEN g % 10 < 5 THEN 'completed' WHEN g % 10 < 7 THEN 'in_progress'
                          WHEN g % 10 < 8 THEN 'review' WHEN g % 10 < 9 THEN 'pending'
                          ELSE 'cancelled' END AS status) s"""
SHOP = """
INSERT INTO shop_drawings (org_id, project_id, drawing_number, title, revision, status,
                           submitted_at)
SELECT $1, $2, 'SD-' || lpad(g::text, 3, '0'), 'Shop drawing ' || g || ' — millwork detail',
       'Rev ' || chr(65 + g % 3),
       (ARRAY['draft', 'submitted', 'in_review', 'approved', 'approved_as_noted',
              'revise_and_resubmit'])[1 + g % 6],
       now() - g * interval '5 hours'
FROM generate_series(1, 150) g"""
SPECS = """
INSERT INTO material_specs (org_id, project_id, code, description, status, quantity,
                            unit_cost, total_cost, supplier_name)
SELECT $1, $2, 'MS-' || lpad(g::text, 3, '0'), 'Material ' || g || ': oak veneer, matt lacquer',
       (ARRAY['pending', 'pending_approval', 'approved', 'ordered', 'delivered',
              'revision_required'])[1 + g % 6], 10 + g, 125.50, (10 + g) * 125.50,
       'Supplier ' || g % 7
FROM generate_series(1, 200) g"""
RFIS = """
INSERT INTO rfis (org_id, project_id, seq, number, subject, question, status, due_on,
                  distribution)
SELECT $1, $2, g, 'RFI-' || lpad(g::text, 3, '0'), 'Question ' || g, 'Which detail governs?',
       'open', current_date - 1 - g % 9, ARRAY[($3::uuid[])[1 + g % cardinality($3::uuid[])]]
FROM generate_series(1, 30) g"""
# The project's progress as its audit trail would hold it: one change every 3 days.
PROGRESS = """
INSERT INTO audit_logs (org_id, project_id, table_name, record_id, action, new_values,
                        changed_fields, at)
SELECT $1, $2, 'projects', $2, 'update', jsonb_build_object('progress', 2 + g * 3),
       ARRAY['progress'], now() - interval '60 days' + g * interval '3 days'
FROM generate_series(0, 19) g"""
NAMES = ("Ayşe Yılmaz", "Mehmet Demir", "Zeynep Kaya", "Emre Şahin", "Elif Çelik",
         "Burak Öztürk", "Selin Aydın", "Can Arslan", "Deniz Koç", "Ece Kurt", "Murat Kaya",
         "Ozan Doğan")


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _thumbnail(number: str) -> bytes:
    image = Image.new("RGB", (400, 283), (250, 250, 250))
    draw = ImageDraw.Draw(image)
    for x in range(20, 400, 40):
        draw.line([(x, 20), (x, 260)], fill=(150, 160, 180), width=1)
    draw.rectangle([20, 20, 380, 263], outline=(30, 41, 59), width=3)
    draw.rectangle([60, 60, 220, 200], outline=(37, 99, 235), width=4)
    draw.text((250, 235), number, fill=(30, 41, 59))
    out = io.BytesIO()
    image.save(out, "WEBP")
    return out.getvalue()


async def setup(pool: asyncpg.Pool, tasks: int) -> tuple[dict[str, Any], uuid.UUID, list[str]]:
    """The project; the storage keys of the revisions that have a thumbnail."""
    async with system_transaction(pool, bulk=True) as conn:
        org = await conn.fetchval(
            "INSERT INTO organizations (name, slug, time_zone) VALUES "
            "('Formula İç Mimarlık', $1, 'Europe/Istanbul') RETURNING id",
            f"bench-{secrets.token_hex(3)}")
        client = await conn.fetchval(
            "INSERT INTO clients (org_id, name) VALUES ($1, 'Koç Holding') RETURNING id", org)
        user = dict(await conn.fetchrow(
            """INSERT INTO users (org_id, email, password_hash, first_name, last_name, role)
               VALUES ($1, 'pm@bench.test', 'x', 'Murat', 'Kaya', 'project_manager')
               RETURNING *""", org))
        project = await conn.fetchval(
            """INSERT INTO projects (org_id, name, type, client_id, budget, status, progress,
                                     project_manager_id)
               VALUES ($1, 'Nişantaşı Ofis Katı', 'fit_out', $2, 4500000, 'active', 59, $3)
               RETURNING id""", org, client, user["id"])
        staff = [user["id"]]
        for i, name in enumerate(NAMES[:-1]):
            first, last = name.split(" ")
            staff.append(await conn.fetchval(
                """INSERT INTO users (org_id, email, password_hash, first_name, last_name,
                                      role) VALUES ($1, $2, 'x', $3, $4, 'designer')
                   RETURNING id""", org, f"u{i}@bench.test", first, last))
        for member in staff:
            await conn.execute("INSERT INTO project_members (org_id, project_id, user_id, role) "
                               "SELECT $1, $2, $3, role FROM users WHERE id = $3",
                               org, project, member)
        await conn.execute(TASKS, org, project, tasks, staff)
        await conn.execute(SHOP, org, project)
        await conn.execute(SPECS, org, project)
        await conn.execute(RFIS, org, project, staff)
        keys = []
        for i in range(40):
            key = object_key(org, project)
            attachment = await conn.fetchval(
                """INSERT INTO attachments (org_id, project_id, entity_type, entity_id,
                       file_name, mime_type, size, storage_key, status, thumbnail)
                   VALUES ($1, $2, 'project', $2, 'plan.pdf', 'application/pdf', 10, $3,
                           'ready', $4) RETURNING id""",
                org, project, key, "ready" if i < 24 else None)
            if i < 24:
                keys.append(key)
            drawing = await conn.fetchval(
                """INSERT INTO drawings (org_id, project_id, number, title, discipline)
                   VALUES ($1, $2, $3, $4, 'A') RETURNING id""",
                org, project, f"A-{101 + i}", f"Level {i % 5} plan, zone {i}")
            revision = await conn.fetchval(
                """INSERT INTO drawing_revisions (org_id, project_id, drawing_id, revision,
                       status, attachment_id, published_at, is_current)
                   VALUES ($1, $2, $3, 'C02', $4, $5, now() - $6 * interval '3 hours', true)
                   RETURNING id""",
                org, project, drawing, ("S2", "A1", "S4", "B1")[i % 4], attachment, i)
            await conn.execute("UPDATE drawings SET current_revision_id = $1 WHERE id = $2",
                               revision, drawing)
    async with pool.acquire() as conn:  # the audit trail is append-only through the app
        await conn.execute(PROGRESS, org, project)
        await conn.execute("VACUUM ANALYZE")
    return user, project, keys


async def lag_while(work: Any) -> tuple[Any, float]:
    """The result of `work` and the event loop's worst lag (ms) meanwhile."""
    done = asyncio.Event()
    worst = 0.0

    async def probe() -> None:
        nonlocal worst
        while not done.is_set():
            started = time.perf_counter()
            await asyncio.sleep(0.005)
            worst = max(worst, time.perf_counter() - started - 0.005)

    prober = asyncio.create_task(probe())
    try:
        result = await work
    finally:
        done.set()
        await prober
    return result, worst * 1000


async def run(dsn: str, args: argparse.Namespace) -> list[str]:
    pool = await create_pool(dsn, min_size=1, max_size=6, command_timeout=600)
    lines: list[str] = []
    try:
        user, project, keys = await setup(pool, args.tasks)
        actor = Actor(user["id"], user["org_id"], user["role"])
        from server.app import create_app

        with tempfile.TemporaryDirectory() as data:
            settings = Settings(database_url=dsn, redis_url=None, jwt_secret="b" * 48,
                                env_name="bench", data_dir=Path(data), pool_min_size=1,
                                pool_max_size=6)
            client = TestClient(TestServer(create_app(settings)))
            await client.start_server()
            try:
                storage = client.app[STORAGE]
                for key in keys:
                    await storage.put_stream(thumbnail_key(key), _chunks(_thumbnail(key[-4:])))
                token = await start_session(client.app, user_id=user["id"],
                                            org_id=user["org_id"], role=user["role"])
                headers = {"Authorization": f"Bearer {token.access_token}"}
                url = f"/api/v1/projects/{project}/reports/weekly"

                async def one(paper: str = "a4") -> tuple[float, bytes]:
                    started = time.perf_counter()
                    response = await client.get(f"{url}?paper={paper}", headers=headers)
                    body = await response.read()
                    assert response.status == 200, body[:300]
                    return time.perf_counter() - started, body

                await one()  # the child processes start (spawn, ReportLab imported)
                http, reads, draws, cpu, lags = [], [], [], [], []
                pdf = b""
                for _ in range(args.runs):
                    (seconds, pdf), lag = await lag_while(one())
                    http.append(seconds)
                    lags.append(lag)
                    started = time.perf_counter()
                    async with transaction(pool, actor, readonly=True) as conn:
                        report, _ = await weekly.collect(conn, project, storage=storage)
                    reads.append(time.perf_counter() - started)
                    started, used = time.perf_counter(), time.process_time()
                    render(report)  # in this process: the drawing alone
                    draws.append(time.perf_counter() - started)
                    cpu.append(time.process_time() - used)
                    print(f"HTTP {seconds:.2f} s, data {reads[-1]:.2f} s, "
                          f"drawing {draws[-1]:.2f} s, loop lag {lag:.1f} ms", flush=True)
                letter, _ = await one("letter")
                started = time.perf_counter()
                together = await asyncio.gather(*(one() for _ in range(args.concurrent)))
                wall = time.perf_counter() - started
                document = pdfium.PdfDocument(pdf)
                pages = len(document)
                if args.picture:
                    texts = [page.get_textpage().get_text_range() for page in document]
                    charts = next(i for i, t in enumerate(texts) if "Progress over" in t)
                    image = document[charts].render(scale=1.4).to_pil().convert("RGB")
                    image.save(args.picture, optimize=True)
            finally:
                await client.close()
        lines += [
            "| what | median s | best s | worst s |", "|---|---|---|---|",
            f"| GET …/reports/weekly (A4, HTTP) | {statistics.median(http):.2f} | "
            f"{min(http):.2f} | {max(http):.2f} |",
            f"| reading the data (one read-only transaction) | {statistics.median(reads):.2f} "
            f"| {min(reads):.2f} | {max(reads):.2f} |",
            f"| drawing the PDF (ReportLab) | {statistics.median(draws):.2f} | "
            f"{min(draws):.2f} | {max(draws):.2f} |",
            f"| drawing the PDF, CPU seconds | {statistics.median(cpu):.2f} | "
            f"{min(cpu):.2f} | {max(cpu):.2f} |",
            f"\n- Letter: {letter:.2f} s; {args.concurrent} reports at once: {wall:.2f} s "
            f"wall ({wall / args.concurrent:.2f} s per report; "
            f"{max(s for s, _ in together):.2f} s the slowest)",
            f"- PDF: {len(pdf) / 1024:.0f} KiB, {pages} pages (24 thumbnails, 300 submittal "
            f"rows); event loop's worst lag during a report: {max(lags):.1f} ms",
        ]
    finally:
        await pool.close()
    return lines


async def main(args: argparse.Namespace) -> None:
    env = machine()
    async with scratch_database(args.admin_dsn, "weekly") as dsn:
        lines = await run(dsn, args)
    print(machine_line(env))
    print(f"- {args.tasks:,} tasks, 150 shop drawings, 200 specs, 40 revised drawings; "
          f"{args.runs} runs after a warm-up, as the project manager (in-process server, "
          "no Redis)\n")
    print("\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-dsn", default=os.environ.get(
        "BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrent", type=int, default=4)
    parser.add_argument("--picture", type=Path, default=None)
    asyncio.run(main(parser.parse_args()))
