"""`formula-pm db stats`: the database as an operator needs to see it (every organisation:
never served over the API)."""

from __future__ import annotations

from typing import Any

import asyncpg

TABLES = """SELECT relname AS table, n_live_tup AS rows, pg_total_relation_size(relid) AS bytes
            FROM pg_stat_user_tables ORDER BY pg_total_relation_size(relid) DESC"""
INDEXES = """SELECT s.relname AS table, s.indexrelname AS index, s.idx_scan AS scans,
                    pg_relation_size(s.indexrelid) AS bytes,
                    i.indisunique OR i.indisprimary AS is_unique
             FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
             ORDER BY s.idx_scan, pg_relation_size(s.indexrelid) DESC"""
HIT_RATIO = """SELECT sum(blks_hit)::float8 / nullif(sum(blks_hit) + sum(blks_read), 0)
               FROM pg_stat_database WHERE datname = current_database()"""
CONNECTIONS = """SELECT coalesce(state, 'background') AS state, count(*) AS n
                 FROM pg_stat_activity WHERE datname = current_database()
                 GROUP BY 1 ORDER BY 2 DESC"""
LEADER = """SELECT c.leader, extract(epoch FROM now() - c.updated_at)::float8 AS heartbeat_age,
                   (SELECT count(*) FROM audit_logs a WHERE a.txid >= c.horizon) AS waiting,
                   (SELECT coalesce(extract(epoch FROM now() - min(a.at)), 0)::float8
                    FROM audit_logs a WHERE a.txid >= c.horizon) AS lag_seconds
            FROM realtime_cursor c WHERE c.id = 1"""
HINT = ("pg_stat_statements is {status}: add it to shared_preload_libraries, restart "
        "PostgreSQL and CREATE EXTENSION pg_stat_statements (managed services: a parameter "
        "group / flag) to see the slowest statements")


async def _statements(conn: asyncpg.Connection) -> tuple[str, list[dict[str, Any]]]:
    exists = await conn.fetchval("SELECT to_regprocedure('fpm_statements_status()') "
                                 "IS NOT NULL")
    if not exists:  # a database before revision 0019
        return "unknown (migrate the database)", []
    status = await conn.fetchval("SELECT fpm_statements_status()")
    rows = await conn.fetch("SELECT * FROM fpm_slow_statements(10)")
    return status, [dict(r) for r in rows]


async def database_stats(url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction(readonly=True):
            await conn.execute("SET LOCAL ROLE formula_pm_system")
            status, slow = await _statements(conn)
            indexes = [dict(r) for r in await conn.fetch(INDEXES)]
            leader = await conn.fetchrow(LEADER)
            return {
                "database": await conn.fetchval("SELECT current_database()"),
                "size_bytes": await conn.fetchval(
                    "SELECT pg_database_size(current_database())"),
                "tables": [dict(r) for r in await conn.fetch(TABLES)],
                "indexes": indexes,
                "unused_indexes": [i for i in indexes
                                   if i["scans"] == 0 and not i["is_unique"]],
                "cache_hit_ratio": await conn.fetchval(HIT_RATIO),
                "pg_stat_statements": status, "slow_statements": slow,
                "connections": {r["state"]: r["n"] for r in await conn.fetch(CONNECTIONS)},
                "leader": dict(leader) if leader else None,
            }
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
