"""Backup and restore throughput against plain pg_dump -Fc / pg_restore, same database,
same (default) compression level, same run, runs interleaved.

    .venv/bin/python bench/backup_speed.py [--projects 1000] [--runs 3] [--admin-dsn URL]

Seeds the demo firm (`formula-pm seed-demo --projects N`) into a scratch database, then
times, `--runs` times each: `pg_dump -Fc` to a file and `formula-pm backup` (plain and
encrypted); `pg_restore` into a fresh database and `formula-pm restore --to` a fresh one
(plain and encrypted; ours includes the sha256 check and the row comparison). Prints MB/s
(database size / seconds) and rows/s (rows / seconds) of the medians, and our/plain ratios.
Drops everything it created.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cli.backup.binaries import find_binaries
from cli.backup.facts import count_rows
from cli.embedded import with_database

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "server"]


async def _sql(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _facts(url: str) -> tuple[int, int, int]:
    conn = await asyncpg.connect(url)
    try:
        size = int(await conn.fetchval("SELECT pg_database_size(current_database())"))
        rows = sum((await count_rows(conn)).values())
        major = int(await conn.fetchval("SHOW server_version_num")) // 10000
        return size, rows, major
    finally:
        await conn.close()


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True,
                          check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return seconds, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    tag = secrets.token_hex(3)
    source = with_database(args.admin_dsn, f"fpm_bench_backup_{tag}")
    created = [source]
    asyncio.run(_sql(args.admin_dsn, f'CREATE DATABASE "fpm_bench_backup_{tag}"'))
    work = Path(tempfile.mkdtemp(prefix="fpm-bench-backup-"))
    key = work / "key"
    key.write_text(secrets.token_urlsafe(48))
    env = {**os.environ, "DATABASE_URL": source, "JWT_SECRET": "b" * 48,
           "DATA_DIR": str(work / "data"), "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)
    try:
        seed_seconds, _ = _timed([*CLI, "seed-demo", "--projects", str(args.projects)], env)
        size, rows, major = asyncio.run(_facts(source))
        tools = find_binaries(major)
        print(f"seeded {args.projects} projects in {seed_seconds:.0f} s: {rows:,} rows, "
              f"{size / 1e6:,.1f} MB (pg_database_size); pg_dump {tools.version}")
        times: dict[str, list[float]] = {k: [] for k in (
            "pg_dump", "backup", "backup_encrypted", "pg_restore", "restore",
            "restore_encrypted")}
        dumped: dict[str, int] = {}
        for run in range(args.runs):
            plain = work / f"plain-{run}.dump"
            seconds, _ = _timed([str(tools.pg_dump), "-Fc", "-f", str(plain),
                                 f"--dbname={source}"], env)
            times["pg_dump"].append(seconds)
            dumped["pg_dump"] = plain.stat().st_size
            outputs = {}
            for name, extra in (("backup", []),
                                ("backup_encrypted", ["--encrypt-key-file", str(key)])):
                seconds, out = _timed([*CLI, "backup", "--to", str(work / f"{name}-{run}"),
                                       *extra], env)
                times[name].append(seconds)
                outputs[name] = Path(out.strip().splitlines()[-1])
                dumped[name] = outputs[name].stat().st_size
            for name, command in (
                    ("pg_restore", lambda url, p=plain: [str(tools.pg_restore), "--no-owner",
                                                         "--exit-on-error",
                                                         f"--dbname={url}", str(p)]),
                    ("restore", lambda url, o=outputs: [*CLI, "restore", str(o["backup"]),
                                                        "--to", url]),
                    ("restore_encrypted", lambda url, o=outputs: [
                        *CLI, "restore", str(o["backup_encrypted"]), "--to", url,
                        "--key-file", str(key)])):
                name_db = f"fpm_bench_restore_{tag}_{run}_{len(created)}"
                target = with_database(args.admin_dsn, name_db)
                created.append(target)
                if name == "pg_restore":  # pg_restore needs the database; ours creates it
                    asyncio.run(_sql(args.admin_dsn, f'CREATE DATABASE "{name_db}"'))
                seconds, _ = _timed(command(target), env)
                times[name].append(seconds)
        _report(times, size, rows, dumped)
    finally:
        for url in created:
            name = url.rsplit("/", 1)[1]
            asyncio.run(_sql(args.admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        subprocess.run(["rm", "-rf", str(work)], check=False)


def _report(times: dict[str, list[float]], size: int, rows: int, dumped: dict[str, int]
            ) -> None:
    median = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n{'step':<18} {'median s':>9} {'MB/s':>8} {'rows/s':>10}  runs (s)")
    for name, seconds in median.items():
        runs = ", ".join(f"{s:.2f}" for s in times[name])
        print(f"{name:<18} {seconds:>9.2f} {size / 1e6 / seconds:>8.1f} "
              f"{rows / seconds:>10,.0f}  {runs}")
    print("\ndump files: " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in dumped.items()))
    for ours, plain in (("backup", "pg_dump"), ("backup_encrypted", "pg_dump"),
                        ("restore", "pg_restore"), ("restore_encrypted", "pg_restore")):
        print(f"{ours} / {plain} throughput: {median[plain] / median[ours]:.2f}x")


if __name__ == "__main__":
    main()
