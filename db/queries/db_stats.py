"""The database as an operator sees it (`formula-pm db stats`): sizes, rows, index use, cache
hit ratio, the slowest statements, connections and the change leader's lag. Every
organisation's figures: never served over the API."""

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


async def slow_statements(conn: asyncpg.Connection) -> tuple[str, list[dict[str, Any]]]:
    """pg_stat_statements' status and the ten slowest statements (by mean time)."""
    exists = await conn.fetchval("SELECT to_regprocedure('fpm_statements_status()') "
                                 "IS NOT NULL")
    if not exists:  # a database before revision 0019
        return "unknown (migrate the database)", []
    status = await conn.fetchval("SELECT fpm_statements_status()")
    rows = await conn.fetch("SELECT * FROM fpm_slow_statements(10)")
    return status, [dict(r) for r in rows]


async def database_stats(conn: asyncpg.Connection) -> dict[str, Any]:
    """Everything `db stats` shows, read in the caller's transaction."""
    status, slow = await slow_statements(conn)
    indexes = [dict(r) for r in await conn.fetch(INDEXES)]
    leader = await conn.fetchrow(LEADER)
    return {
        "database": await conn.fetchval("SELECT current_database()"),
        "size_bytes": await conn.fetchval("SELECT pg_database_size(current_database())"),
        "tables": [dict(r) for r in await conn.fetch(TABLES)],
        "indexes": indexes,
        "unused_indexes": [i for i in indexes if i["scans"] == 0 and not i["is_unique"]],
        "cache_hit_ratio": await conn.fetchval(HIT_RATIO),
        "pg_stat_statements": status, "slow_statements": slow,
        "connections": {r["state"]: r["n"] for r in await conn.fetch(CONNECTIONS)},
        "leader": dict(leader) if leader else None,
    }
