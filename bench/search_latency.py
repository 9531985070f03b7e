"""Search latency on a large demo firm: p50/p99 of typical queries, as admin and as member.

Standalone: creates its own database fpm_bench_search_<random> on the local server,
migrates it, loads `seed_demo(projects=N)` plus one comment per two tasks, runs VACUUM
ANALYZE,
checks with EXPLAIN ANALYZE that the GIN indexes are used, measures each query through
the same function the route uses (`db.queries.search.search` inside
`transaction(pool, actor)`, no cache), then drops the database.

    .venv/bin/python bench/search_latency.py [--projects 1000] [--runs 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import secrets
import statistics
import time
from pathlib import Path
from typing import Any

import asyncpg

from cli.embedded import with_database
from cli.seed import seed_demo
from db.migrate import upgrade_async
from db.pool import Actor, create_pool, system_transaction, transaction
from db.queries.search import SearchQuery, as_ranker, ranking_sql, search, visible_scope

QUERIES = [  # (what it stands for, q)
    ("name word", "reception"),
    ("typo", "milwork"),
    ("drawing number", "ID-201"),
    ("partial code", "MW-0"),
    ("supplier", "Decospan"),
    ("misspelled supplier", "Karakoy Yapi Markt"),
    ("Turkish name, folded", "yilmaz"),
    ("Turkish place", "Kadıköy"),
    ("multi-word phrase", "walnut veneer panel"),
    ("quoted phrase", '"reception desk"'),
    ("transposed letters", "millwrok"),
    ("category typo", "Elecrtical"),
    ("drawing type, transposed", "Elevaiton"),
    ("supplier, transposed", "Decopsan"),
]
COMMENTS = """
INSERT INTO comments (org_id, project_id, entity_type, entity_id, user_id, body)
SELECT t.org_id, t.project_id, 'task', t.id, t.assigned_to,
       'Checked ' || lower(t.name) || ' with ' ||
       (ARRAY['Deniz Yılmaz', 'Zeynep Çelik', 'Ahmet Öztürk', 'Oğuz Koç', 'Can Demir',
              'Burak Arslan'])[1 + abs(hashtext(t.id::text)) % 6] ||
       ' on site; ' || (ARRAY['photos attached.', 'needs a second coat.',
                              'waiting for the supplier.', 'measurements recorded.'])
                             [1 + abs(hashtext(t.name)) % 4]
FROM tasks t WHERE abs(hashtext(t.id::text)) % 2 = 0 AND t.assigned_to IS NOT NULL
"""


def machine() -> dict[str, str]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = found.group(1).strip() if found else cpu
    mem = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        found = re.search(r"MemTotal:\s*(\d+) kB", meminfo.read_text())
        mem = f"{int(found.group(1)) / 1024 / 1024:.1f} GiB" if found else mem
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "ram": mem,
            "python": platform.python_version(),
            "load": " ".join(f"{x:.2f}" for x in os.getloadavg())}


async def admin_exec(admin_dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def load(pool: asyncpg.Pool, projects: int) -> dict[str, int]:
    started = time.perf_counter()
    await seed_demo(pool, projects=projects, password=secrets.token_urlsafe(12))
    async with system_transaction(pool) as conn:
        await conn.execute(COMMENTS)
    async with pool.acquire() as conn:
        # What autovacuum does after a bulk load: merges the GIN pending lists (rows inserted
        # after CREATE INDEX wait there, and the planner avoids a GIN index with a long
        # pending list) and gathers statistics.
        await conn.execute("VACUUM ANALYZE")
        counts = {t: await conn.fetchval(f"SELECT count(*) FROM {t}")  # noqa: S608 - listed below
                  for t in ("projects", "clients", "tasks", "scope_items", "shop_drawings",
                            "material_specs", "comments", "project_members", "audit_logs")}
    print(f"loaded in {time.perf_counter() - started:.0f} s: {counts}", flush=True)
    return counts


async def actors(pool: asyncpg.Pool) -> dict[str, Actor]:
    async with system_transaction(pool) as conn:
        rows = await conn.fetch(
            "SELECT id, org_id, role, email FROM users WHERE email IN "
            "('selin.aydin@formula-demo.test', 'murat.kaya@formula-demo.test')")
    by_mail = {r["email"].split(".")[0]: r for r in rows}
    return {"admin": Actor(by_mail["selin"]["id"], by_mail["selin"]["org_id"], "admin"),
            "member": Actor(by_mail["murat"]["id"], by_mail["murat"]["org_id"],
                            "project_manager")}


async def one_search(pool: asyncpg.Pool, actor: Actor, q: str) -> int:
    async with transaction(pool, actor, readonly=True) as conn:
        scope = await visible_scope(conn)
        assert scope is not None
        hits, _ = await search(conn, scope, SearchQuery(q, limit=20))
    return len(hits)


async def plan_check(pool: asyncpg.Pool, actor: Actor, q: str) -> tuple[set[str], set[str], str]:
    """Indexes and sequential scans in the EXPLAIN ANALYZE of both ranking tiers."""
    async with transaction(pool, actor, readonly=True) as conn:
        scope = await visible_scope(conn)
        assert scope is not None
        ranked = await as_ranker(conn, scope, SearchQuery(q, limit=20))
        plans = []
        for tier in ("fts", "fuzzy"):  # both tiers, although rank() skips a tier it needs not
            sql, args = ranking_sql(scope, ranked, tier)
            plans += [r[0] for r in await conn.fetch("EXPLAIN ANALYZE " + sql, *args)]
    plan = "\n".join(plans)
    indexes = set(re.findall(r"Index Scan on (\w+)", plan))
    seqs = set(re.findall(r"Seq Scan on (\w+)", plan))
    total = sum(float(ms) for ms in re.findall(r"Execution Time: ([\d.]+) ms", plan))
    return indexes, seqs, f"{total:.1f}"


async def measure(pool: asyncpg.Pool, who: dict[str, Actor], runs: int,
                  warmup: int) -> list[dict[str, Any]]:
    results = []
    for name, actor in who.items():
        for label, q in QUERIES:
            for _ in range(warmup):
                await one_search(pool, actor, q)
            times = []
            hits = 0
            for _ in range(runs):
                started = time.perf_counter()
                hits = await one_search(pool, actor, q)
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            row = {"user": name, "label": label, "q": q, "hits": hits,
                   "p50": statistics.median(times), "p99": times[int(len(times) * 0.99) - 1],
                   "max": times[-1]}
            results.append(row)
            print(f"{name:6} {label:24} {q!r:24} hits={hits:2} p50={row['p50']:6.1f} ms "
                  f"p99={row['p99']:6.1f} ms max={row['max']:6.1f} ms", flush=True)
    return results


def report(results: list[dict[str, Any]], env: dict[str, str], pg: str,
           counts: dict[str, int], plans: list[str], args: argparse.Namespace) -> str:
    lines = [f"- machine: {env['nproc']} cores, {env['cpu']}, {env['ram']} RAM; {pg}",
             f"- load average at start / end: {env['load']} / {machine()['load']}",
             f"- data: {counts}",
             f"- {args.runs} runs per query after {args.warmup} warm-up runs, one client, "
             "no cache", "",
             "| user | query | q | hits | p50 ms | p99 ms | max ms |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['user']} | {r['label']} | `{r['q']}` | {r['hits']} | {r['p50']:.1f} | "
              f"{r['p99']:.1f} | {r['max']:.1f} |" for r in results]
    title = "EXPLAIN ANALYZE of both ranking tiers (member; execution ms summed):"
    return "\n".join([*lines, "", title, *plans])


async def main(args: argparse.Namespace) -> None:
    env = machine()
    name = f"fpm_bench_search_{secrets.token_hex(4)}"
    await admin_exec(args.admin_dsn, f'CREATE DATABASE "{name}"')
    dsn = with_database(args.admin_dsn, name)
    try:
        await upgrade_async(dsn)
        pool = await create_pool(dsn, min_size=1, max_size=2, command_timeout=1800)
        try:
            counts = await load(pool, args.projects)
            who = await actors(pool)
            plans = []
            for label, q in QUERIES:
                indexes, seqs, ms = await plan_check(pool, who["member"], q)
                plans.append(f"- `{q}` ({label}): {ms} ms; indexes: {', '.join(sorted(indexes))}"
                             f"; seq scans: {', '.join(sorted(seqs)) or 'none'}")
                print(plans[-1], flush=True)
            pg = str(await pool.fetchval("SELECT version()")).split(" on ")[0]
            results = await measure(pool, who, args.runs, args.warmup)
        finally:
            await pool.close()
    finally:
        await admin_exec(args.admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print("\n" + report(results, env, pg, counts, plans, args))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-dsn", default=os.environ.get(
        "BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    asyncio.run(main(parser.parse_args()))
