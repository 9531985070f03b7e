"""Uploads through file:// storage: throughput of PUT /api/v1/attachments/{id}/content
against a plain `cp` of the same file in the same run, and the REST p99 of other requests
while 50 uploads of 10 MiB run at once on one worker.

Standalone: creates its own database fpm_bench_uploads_<random> on the local server,
migrates it, starts one worker in this process (no Redis, files in a temporary folder),
and drops the database at the end.

    .venv/bin/python bench/uploads.py [--size-mib 200] [--concurrent 50] [--each-mib 10]

Run it alone: the figures are wall-clock times on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp.test_utils import TestServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cli.embedded import with_database
from db.migrate import upgrade_async
from db.pool import create_pool, system_transaction
from server.app import create_app
from server.auth.sessions import start_session
from server.config import Settings
from storage.settings import StorageSettings

MiB = 1024 * 1024
URL = "/api/v1/attachments"


def text_block() -> bytes:
    """1 MiB of printable lines (a .txt passes sniffing; random, so nothing compresses)."""
    raw = base64.b64encode(os.urandom(MiB))[:MiB - MiB // 77]
    lines = [raw[i:i + 76] for i in range(0, len(raw), 76)]
    return (b"\n".join(lines) + b"\n")[:MiB].ljust(MiB, b"\n")


def write_file(path: Path, size: int) -> None:
    block = text_block()
    with path.open("wb") as out:
        for start in range(0, size, MiB):
            out.write(block[: min(MiB, size - start)])


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as inp:
        while chunk := await asyncio.to_thread(inp.read, 256 * 1024):
            yield chunk


async def admin_exec(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def seed(pool: asyncpg.Pool) -> tuple[Any, Any, Any]:
    async with system_transaction(pool) as conn:
        org = await conn.fetchval("INSERT INTO organizations (name, slug) VALUES "
                                  "('Bench', 'bench') RETURNING id")
        user = await conn.fetchrow(
            "INSERT INTO users (org_id, email, password_hash, first_name, last_name, role) "
            "VALUES ($1, 'bench@example.test', 'x', 'Ben', 'Ch', 'admin') RETURNING *", org)
        project = await conn.fetchval("INSERT INTO projects (org_id, name, type) VALUES "
                                      "($1, 'Bench', 'fit_out') RETURNING id", org)
    return org, user, project


async def upload(http: aiohttp.ClientSession, base: str, headers: dict[str, str],
                 project: Any, path: Path, size: int) -> tuple[float, float]:
    """(seconds of the PUT, seconds of declare + PUT + complete)."""
    started = time.perf_counter()
    async with http.post(f"{base}{URL}", headers=headers, json={
            "project_id": str(project), "entity_type": "project", "entity_id": str(project),
            "file_name": f"{path.stem}.txt", "content_type": "text/plain",
            "size": size}) as answer:
        created = await answer.json()
        assert answer.status == 201, created
    put_started = time.perf_counter()
    async with http.put(f"{base}{URL}/{created['id']}/content", data=file_chunks(path),
                        headers={**headers, "Content-Length": str(size)}) as answer:
        assert answer.status == 200, await answer.text()
    put_seconds = time.perf_counter() - put_started
    async with http.post(f"{base}{URL}/{created['id']}/complete", headers=headers) as answer:
        assert answer.status == 200, await answer.text()
    return put_seconds, time.perf_counter() - started


async def probe(http: aiohttp.ClientSession, base: str, headers: dict[str, str], project: Any,
                stop: asyncio.Event, out: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        async with http.get(f"{base}/api/v1/projects/{project}", headers=headers) as answer:
            await answer.read()
            assert answer.status == 200
        out.append(time.perf_counter() - started)
        await asyncio.sleep(0.02)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(args: argparse.Namespace) -> None:
    name = f"fpm_bench_uploads_{secrets.token_hex(4)}"
    await admin_exec(args.admin_dsn, f'CREATE DATABASE "{name}"')
    scratch = Path(tempfile.mkdtemp(prefix="fpm-bench-uploads-"))
    try:
        dsn = with_database(args.admin_dsn, name)
        await upgrade_async(dsn)
        pool = await create_pool(dsn, min_size=1, max_size=2)
        _, user, project = await seed(pool)
        await pool.close()
        settings = Settings(database_url=dsn, redis_url=None, jwt_secret="b" * 48,
                            env_name="benchuploads", data_dir=scratch / "data",
                            storage=StorageSettings(kind="file", root=scratch / "files"),
                            max_upload_bytes=max(args.size_mib, args.each_mib) * MiB + MiB)
        app = create_app(settings)
        async with TestServer(app) as server, aiohttp.ClientSession() as http:
            base = str(server.make_url("")).rstrip("/")
            pair = await start_session(app, user_id=user["id"], org_id=user["org_id"],
                                       role=user["role"])
            headers = {"Authorization": f"Bearer {pair.access_token}"}

            size = args.size_mib * MiB
            big = scratch / "big.txt"
            write_file(big, size)
            cp_started = time.perf_counter()
            await asyncio.to_thread(subprocess.run, ["cp", str(big), str(scratch / "copy.txt")],
                                    check=True)
            os.sync()
            cp_seconds = time.perf_counter() - cp_started
            (scratch / "copy.txt").unlink()
            put_seconds, total = await upload(http, base, headers, project, big, size)
            print(f"one {args.size_mib} MiB file: cp {args.size_mib / cp_seconds:,.0f} MiB/s "
                  f"({cp_seconds:.2f} s); PUT {args.size_mib / put_seconds:,.0f} MiB/s "
                  f"({put_seconds:.2f} s); declare+PUT+complete (sha256, sniff) "
                  f"{total:.2f} s")

            each = args.each_mib * MiB
            small = scratch / "each.txt"
            write_file(small, each)
            quiet: list[float] = []
            stop = asyncio.Event()
            prober = asyncio.create_task(probe(http, base, headers, project, stop, quiet))
            await asyncio.sleep(3)
            stop.set()
            await prober
            busy: list[float] = []
            stop = asyncio.Event()
            prober = asyncio.create_task(probe(http, base, headers, project, stop, busy))
            # The uploading clients run in a process of their own, as browsers would: the
            # worker's event loop serves them, it does not also drive them.
            started = time.perf_counter()
            child = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--uploader", json.dumps({
                    "base": base, "headers": headers, "project": str(project),
                    "path": str(small), "size": each, "count": args.concurrent}),
                stdout=asyncio.subprocess.PIPE)
            out, _ = await child.communicate()
            wall = time.perf_counter() - started
            stop.set()
            await prober
            times = json.loads(out.decode().strip().splitlines()[-1])
            print(f"{args.concurrent} x {args.each_mib} MiB at once: {wall:.2f} s, "
                  f"{args.concurrent * args.each_mib / wall:,.0f} MiB/s in all; each "
                  f"median {statistics.median(times):.2f} s")
            for label, values in (("idle", quiet), ("during the uploads", busy)):
                print(f"GET /api/v1/projects/{{id}} {label}: {len(values)} requests, p50 "
                      f"{percentile(values, 0.5) * 1000:.1f} ms, p99 "
                      f"{percentile(values, 0.99) * 1000:.1f} ms")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        await admin_exec(args.admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def uploader(job: dict[str, Any]) -> None:
    """The child's part: `count` uploads at once; prints their durations as JSON."""
    async with aiohttp.ClientSession() as http:
        times = await asyncio.gather(*(
            upload(http, job["base"], job["headers"], job["project"], Path(job["path"]),
                   job["size"]) for _ in range(job["count"])))
    print(json.dumps([total for _, total in times]))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--uploader":
        asyncio.run(uploader(json.loads(sys.argv[2])))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-dsn", default=os.environ.get(
        "BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--size-mib", type=int, default=200)
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--each-mib", type=int, default=10)
    asyncio.run(main(parser.parse_args()))
