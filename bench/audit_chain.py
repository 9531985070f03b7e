"""What the audit hash chain costs, and how fast it is checked and exported, in one run.

1. Write throughput with the chain on against off: pgbench (a separate C process) runs
   single-row UPDATE transactions (each writes one audit row) while an in-process change
   leader drains the feed in poll mode, with `chain` on or off; modes alternate.
2. `verify` speed: every chained row recomputed (rows/s), as `formula-pm audit verify`
   (with one connection, and with --jobs of them checking ranges at once).
3. Export speed: every row as an OCSF JSON line (rows/s), as `formula-pm audit export`.

The script creates its own database and drops it.

    .venv/bin/python bench/audit_chain.py [--dsn postgresql://postgres@127.0.0.1/postgres]
        [--seconds 10] [--repeat 2] [--clients 4] [--jobs N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.trigger_cost import ROWS, SCRIPT, pgbench, prepare
from cli.audit_verify import verify
from cli.embedded import with_database
from db.admin_sql import act_as_system
from db.cursor_codec import encode_feed_cursor as encode_cursor
from db.migrate import upgrade
from db.queries import audit
from realtime.feed.chain import Chainer
from realtime.feed.cursor import ORIGIN
from realtime.feed.leader import Leader, LeaderConfig
from rules.ocsf import ocsf_line


async def _nothing(events: list[Any]) -> None:
    pass


async def writes_per_second(url: str, chain: bool, clients: int, seconds: int,
                            script: Path) -> tuple[float, int]:
    """pgbench's transactions/s with a leader draining (chain on or off); the rows the
    chain still had to link when pgbench stopped."""
    leader = Leader(LeaderConfig(dsn=url, mode="poll", chain=chain, name=f"bench-{chain}"),
                    _nothing)
    task = asyncio.create_task(leader.run())
    try:
        for _ in range(600):
            if leader.role == "leader":
                break
            await asyncio.sleep(0.05)
        tps = await asyncio.to_thread(pgbench, url, clients, seconds, script)
        conn = await asyncpg.connect(url)
        try:
            behind = await conn.fetchval(
                "SELECT count(*) FROM audit_logs a WHERE NOT EXISTS "
                "(SELECT 1 FROM audit_chain_links l WHERE l.audit_id = a.id)")
        finally:
            await conn.close()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return tps, int(behind) if chain else -1


async def chain_everything(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        await act_as_system(conn)
        chainer = Chainer(batch=5000)
        while await chainer.extend(conn, rounds=100):
            pass
        return int(await conn.fetchval("SELECT count(*) FROM audit_chain_links"))
    finally:
        await conn.close()


async def verify_rate(url: str, jobs: int) -> tuple[int, float, bool]:
    conn = await asyncpg.connect(url)
    try:
        report = await verify(conn, connect=lambda: asyncpg.connect(url), jobs=jobs)
    finally:
        await conn.close()
    return report.links, report.seconds, report.intact


async def export_rate(url: str) -> tuple[int, float]:
    conn = await asyncpg.connect(url)
    rows, size = 0, 0
    started = time.monotonic()
    try:
        await act_as_system(conn)
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            async for row in audit.export_cursor(conn, ORIGIN, None, 2**62, 5000):
                size += len(ocsf_line(row, encode_cursor((row["txid"], row["id"]))))
                rows += 1
    finally:
        await conn.close()
    return rows, time.monotonic() - started


async def main(args: argparse.Namespace) -> None:
    name = f"fpm_bench_chain_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(args.dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = with_database(args.dsn, name)
    try:
        await asyncio.to_thread(upgrade, url)
        await prepare(url)
        with tempfile.TemporaryDirectory() as folder:
            script = Path(folder) / "update.sql"
            script.write_text(SCRIPT.format(rows=ROWS))
            results: dict[bool, list[float]] = {False: [], True: []}
            for round_ in range(args.repeat):  # alternating which mode goes first
                for chain in ((False, True) if round_ % 2 == 0 else (True, False)):
                    tps, behind = await writes_per_second(url, chain, args.clients,
                                                          args.seconds, script)
                    results[chain].append(tps)
                    print(f"chain {'on ' if chain else 'off'}: {tps:,.0f} writes/s"
                          + (f" (rows not yet chained when writes stopped: {behind})"
                             if chain else ""), flush=True)
        off, on = statistics.median(results[False]), statistics.median(results[True])
        print(f"median: off {off:,.0f}/s, on {on:,.0f}/s, ratio {on / off:.3f}")
        linked = await chain_everything(url)
        for jobs in sorted({1, args.jobs}):
            for _ in range(args.repeat):
                rows, seconds, intact = await verify_rate(url, jobs)
                print(f"verify, {jobs} connection(s): {rows:,} rows in {seconds:.2f} s = "
                      f"{rows / seconds:,.0f} rows/s ({'intact' if intact else 'BROKEN'}; "
                      f"{linked:,} links)", flush=True)
        rows, seconds = await export_rate(url)
        print(f"export: {rows:,} rows in {seconds:.2f} s = {rows / seconds:,.0f} rows/s")
        print(f"machine: {platform.machine()}, {os.cpu_count()} cpu(s), "
              f"clients {args.clients}, {args.seconds} s x {args.repeat}")
    finally:
        admin = await asyncpg.connect(args.dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default=os.environ.get(
        "BENCH_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="connections for `verify` (as its --jobs; also run with 1)")
    asyncio.run(main(parser.parse_args()))
