"""`formula-pm db stats`: the database as an operator needs to see it (every organisation:
never served over the API)."""

from __future__ import annotations

from typing import Any

import asyncpg

from db import admin_sql
from db.queries import db_stats

HINT = ("pg_stat_statements is {status}: add it to shared_preload_libraries, restart "
        "PostgreSQL and CREATE EXTENSION pg_stat_statements (managed services: a parameter "
        "group / flag) to see the slowest statements")


async def database_stats(url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction(readonly=True):
            await admin_sql.act_as_system(conn, local=True)
            return await db_stats.database_stats(conn)
    finally:
        await conn.close()


def _mb(value: int) -> str:
    return f"{value / 1e6:,.1f} MB"


def render(stats: dict[str, Any]) -> list[str]:
    out = [f"database {stats['database']}: {_mb(stats['size_bytes'])}", "", "tables:"]
    out += [f"  {t['table']:<28} {t['rows']:>12,} rows {_mb(t['bytes']):>12}"
            for t in stats["tables"]]
    out += ["", "indexes (fewest scans first):"]
    out += [f"  {i['table'] + '.' + i['index']:<60} {i['scans']:>12,} scans "
            f"{_mb(i['bytes']):>10}" for i in stats["indexes"][:25]]
    unused = stats["unused_indexes"]
    out.append(f"  unused (no scan since the statistics were reset, not unique): "
               f"{', '.join(i['index'] for i in unused) or 'none'}")
    ratio = stats["cache_hit_ratio"]
    out += ["", f"PostgreSQL cache hit ratio: {'n/a' if ratio is None else f'{ratio:.2%}'}"]
    if stats["pg_stat_statements"] == "loaded":
        out.append("slowest statements (mean):")
        out += [f"  {s['mean_ms']:>10.2f} ms x {s['calls']:>8}  "
                f"{' '.join(s['query'].split())[:100]}" for s in stats["slow_statements"]]
    else:
        out.append(HINT.format(status=stats["pg_stat_statements"]))
    out += ["", "connections: " + ", ".join(f"{k} {v}" for k, v in
                                            stats["connections"].items())]
    leader = stats["leader"]
    if leader:
        out.append(f"change leader {leader['leader'] or '(none yet)'}: heartbeat "
                   f"{leader['heartbeat_age']:.1f} s ago, {leader['waiting']} rows waiting, "
                   f"lag {leader['lag_seconds']:.1f} s")
    return out
