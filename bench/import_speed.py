"""Legacy import speed: a 100x synthetic export (every id remapped) into a fresh database.

    .venv/bin/python bench/import_speed.py [--copies 100] [--admin-dsn postgresql://...]

Creates its own database, imports twice (the second run must change nothing), prints
records/s and drops the database.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cli.embedded import with_database
from db.migrate import upgrade
from db.pool import create_pool, system_transaction
from importer import import_legacy
from importer.read import FILES, REF, REFS, SHAPES

REPO = Path(__file__).resolve().parents[1]
STEP = 100_000


def _remap(value: Any, k: int) -> Any:
    if value is None or value == "":
        return value
    if isinstance(value, int):
        return value + k * STEP
    if str(value).isdigit():
        return str(int(value) + k * STEP)
    return f"{value}-{k}"


def scaled(source: Path, target: Path, copies: int) -> int:
    """Write `copies` remapped copies of every file; returns the number of records."""
    total = 0
    for stem in FILES:
        records = json.loads((source / f"{stem}.json").read_text(encoding="utf-8"))
        refs = {f for f, kind in SHAPES[stem].items() if kind == REF}
        lists = {f for f, kind in SHAPES[stem].items() if kind == REFS}
        out = []
        for k in range(copies):
            for record in records:
                item = copy.deepcopy(record)
                for field in refs & item.keys():
                    item[field] = _remap(item[field], k)
                for field in lists & item.keys():
                    item[field] = [_remap(v, k) for v in item[field] or []]
                if stem == "teamMembers":
                    local, domain = item["email"].split("@")
                    item["email"] = f"{local}+{k}@{domain}"
                out.append(item)
        (target / f"{stem}.json").write_text(json.dumps(out), encoding="utf-8")
        total += len(out)
    return total


def legacy_data() -> Path:
    for path in (REPO / "../shared/legacy-data", REPO / "../../shared/legacy-data"):
        if (path / "tasks.json").exists():
            return path.resolve()
    raise SystemExit("legacy data not found beside the repository")


async def run(admin_dsn: str, copies: int) -> dict[str, Any]:
    name = f"fpm_bench_import_{secrets.token_hex(3)}"
    conn = await asyncpg.connect(admin_dsn)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        dsn = with_database(admin_dsn, name)
        await asyncio.to_thread(upgrade, dsn)
        pool = await create_pool(dsn, min_size=1, max_size=2, command_timeout=3600)
        async with system_transaction(pool) as c:
            org = await c.fetchval("INSERT INTO organizations (name, slug) VALUES "
                                   "('Bench', 'bench') RETURNING id")
            await c.execute("INSERT INTO users (org_id, email, first_name, last_name, role) "
                            "VALUES ($1, 'admin@bench.test', 'A', 'B', 'admin')", org)
        with tempfile.TemporaryDirectory() as tmp:
            records = scaled(legacy_data(), Path(tmp), copies)
            started = time.perf_counter()
            first = await import_legacy(pool, Path(tmp), org_slug="bench")
            first_s = time.perf_counter() - started
            started = time.perf_counter()
            second = await import_legacy(pool, Path(tmp), org_slug="bench")
            second_s = time.perf_counter() - started
        async with pool.acquire() as c:
            audit = await c.fetchval("SELECT count(*) FROM audit_logs")
        await pool.close()
        rows = sum(t.created for t in first.tables.values())
        return {
            "copies": copies, "records": records, "rows_written": rows, "audit_rows": audit,
            "first_s": round(first_s, 2), "records_per_s": round(records / first_s),
            "rows_per_s": round(rows / first_s), "second_s": round(second_s, 2),
            "second_changes": sum(t.created + t.updated for t in second.tables.values()),
            "balanced": first.balanced and second.balanced,
            "files": {f: c.read for f, c in first.files.items()},
        }
    finally:
        conn = await asyncpg.connect(admin_dsn)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=100)
    parser.add_argument("--admin-dsn", default=os.environ.get(
        "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.admin_dsn, args.copies)), indent=2))


if __name__ == "__main__":
    main()
