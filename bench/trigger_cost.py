"""What the spine costs a writer: single-row UPDATE transactions/s with and without the
version/audit/doorbell triggers, at 1 and 8 concurrent writers, in one run.

Modes (same table, same rows, same run):
- plain:   triggers disabled (ALTER TABLE tasks DISABLE TRIGGER USER) — the baseline;
- notify:  version + audit triggers, doorbell rung on every write (leader asleep);
- skipped: version + audit triggers, doorbell skipped (leader awake / REALTIME_MODE=poll).

Load: pgbench (a separate C process) with a custom script, one UPDATE per transaction
that always changes a value. The script creates its own database and drops it.

    .venv/bin/python bench/trigger_cost.py [--dsn postgresql://postgres@127.0.0.1/postgres]
        [--seconds 10] [--repeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cli.embedded import with_database
from db.migrate import upgrade

ROWS = 2000
SCRIPT = """\\set id random(1, {rows})
UPDATE tasks SET progress = (progress + 1) % 101 WHERE seq = :id;
"""
MODES = {
    "plain": ("ALTER TABLE tasks DISABLE TRIGGER USER", False),
    "notify": ("ALTER TABLE tasks ENABLE TRIGGER USER", False),
    "skipped": ("ALTER TABLE tasks ENABLE TRIGGER USER", True),
}


async def prepare(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        org = await conn.fetchval("INSERT INTO organizations (name, slug) VALUES ('Bench', "
                                  "'bench') RETURNING id")
        project = await conn.fetchval("INSERT INTO projects (org_id, name, type) VALUES ($1, "
                                      "'Bench', 'fit_out') RETURNING id", org)
        # A plain integer key for pgbench's random ids (benchmark scaffolding only).
        await conn.execute("ALTER TABLE tasks ADD COLUMN seq int")
        await conn.executemany(
            "INSERT INTO tasks (org_id, project_id, name, seq) VALUES ($1, $2, $3, $4)",
            [(org, project, f"task {i}", i) for i in range(1, ROWS + 1)])
        await conn.execute("CREATE UNIQUE INDEX ON tasks (seq)")
        await conn.execute("VACUUM ANALYZE tasks")
    finally:
        await conn.close()


async def set_mode(url: str, mode: str) -> None:
    ddl, awake = MODES[mode]
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(ddl)
        await conn.execute("UPDATE realtime_state SET listener_awake = $1", awake)
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


def pgbench(url: str, clients: int, seconds: int, script: Path) -> float:
    out = subprocess.run(
        ["pgbench", "-n", "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds),
         "-f", str(script), url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"tps = ([0-9.]+)", out)
    assert match, out
    return float(match.group(1))


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), platform.processor())
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()
    return (f"{os.cpu_count()} cores ({cpu}), {mem:.1f} GiB, load average at start "
            f"{load[0]:.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1/postgres")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    name = f"fpm_bench_trig_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(args.dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(args.dsn, name)
    try:
        await asyncio.to_thread(upgrade, url)
        await prepare(url)
        version = await admin.fetchval("SHOW server_version")
        script = Path(tempfile.mkdtemp()) / "update.sql"
        script.write_text(SCRIPT.format(rows=ROWS))
        results: dict[tuple[str, int], list[float]] = {}
        for _ in range(args.repeat):
            for clients in (1, 8):
                for mode in MODES:
                    await set_mode(url, mode)
                    tps = await asyncio.to_thread(pgbench, url, clients, args.seconds, script)
                    results.setdefault((mode, clients), []).append(tps)
        print(f"machine: {machine()}; PostgreSQL {version}; {args.seconds} s per case, "
              f"{args.repeat} rounds (modes interleaved)")
        print("| writers | mode | tx/s (median) | runs | ratio to plain |")
        print("|---:|---|---:|---|---:|")
        for clients in (1, 8):
            plain = statistics.median(results[("plain", clients)])
            for mode in MODES:
                runs = results[(mode, clients)]
                median = statistics.median(runs)
                shown = ", ".join(f"{r:,.0f}" for r in runs)
                print(f"| {clients} | {mode} | {median:,.0f} | {shown} | "
                      f"{median / plain:.2f} |")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
