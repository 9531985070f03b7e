"""How long migration 0024 takes to convert an audit log of N rows (default 1 M) into
monthly partitions, and back (the downgrade), on a database of its own.

The rows are spread over 24 months, shaped like the audit trigger's (JSON old/new values,
changed fields, a user, an address, an agent). The database is migrated to 0023, filled,
analysed, then upgraded to 0024 (timed), checked (row count, highest id), downgraded to
0023 (timed) and dropped.

    .venv/bin/python bench/audit_partitions.py [--dsn postgresql://postgres@127.0.0.1/postgres]
        [--rows 1000000] [--months 24]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import sys
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cli.embedded import with_database
from db.migrate import downgrade, upgrade

FILL = """
INSERT INTO audit_logs (org_id, project_id, table_name, record_id, action, old_values,
                        new_values, changed_fields, user_id, request_id, ip, user_agent, at)
SELECT o.id, gen_random_uuid(), 'tasks', gen_random_uuid(), 'update',
       jsonb_build_object('name', 'task ' || g, 'status', 'pending', 'priority', 'low'),
       jsonb_build_object('name', 'task ' || g, 'status', 'done', 'priority', 'low'),
       ARRAY['status'], gen_random_uuid(), md5(g::text), '10.1.2.3', 'Mozilla/5.0 bench',
       now() - ($3::int * 30 * 86400) * (g::float / $2) * interval '1 second'
FROM generate_series($1::bigint, $1::bigint + $4 - 1) g,
     (VALUES ('00000000-0000-0000-0000-000000000001'::uuid)) o(id)
"""


async def fill(url: str, rows: int, months: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        step = 100_000
        for start in range(1, rows + 1, step):
            await conn.execute(FILL, start, rows, months, min(step, rows - start + 1))
        await conn.execute("ANALYZE audit_logs")
    finally:
        await conn.close()


async def facts(url: str) -> tuple[int, int, str]:
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL ROLE formula_pm_system")
            row = await conn.fetchrow("SELECT count(*) AS n, max(id) AS top FROM audit_logs")
        kind = await conn.fetchval(
            "SELECT relkind::text FROM pg_class WHERE relname = 'audit_logs'")
        return int(row["n"]), int(row["top"]), str(kind)
    finally:
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=os.environ.get(
        "BENCH_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=24)
    args = parser.parse_args()
    name = f"fpm_bench_partitions_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(args.dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(args.dsn, name)
    try:
        await asyncio.to_thread(upgrade, url, "0023")
        started = time.perf_counter()
        await fill(url, args.rows, args.months)
        print(f"filled {args.rows:,} rows over {args.months} months in "
              f"{time.perf_counter() - started:.1f} s")
        before = await facts(url)
        size = await admin.fetchval("SELECT pg_size_pretty(pg_database_size($1))", name)
        started = time.perf_counter()
        await asyncio.to_thread(upgrade, url, "0024")
        up = time.perf_counter() - started
        after = await facts(url)
        # The migration itself writes one row (migration_applied).
        assert after[0] == before[0] + 1 and after[1] == before[1] + 1 and after[2] == "p", (
            before, after)
        started = time.perf_counter()
        await asyncio.to_thread(downgrade, url, "0023")
        down = time.perf_counter() - started
        back = await facts(url)
        assert back[0] >= after[0] and back[2] == "r", (after, back)
        version = admin.get_server_version()
        print(f"PostgreSQL {version.major}.{version.micro}, {platform.machine()}, "
              f"{os.cpu_count()} CPU(s); database {size}")
        print(f"upgrade 0023 -> 0024 (partition {args.rows:,} rows): {up:.1f} s "
              f"({args.rows / up:,.0f} rows/s)")
        print(f"downgrade 0024 -> 0023: {down:.1f} s")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
