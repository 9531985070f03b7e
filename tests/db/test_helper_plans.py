"""The database helpers every statement and every write calls are cheap whatever the
statistics say: planned once per connection, and fpm_tx_changes() led by the transaction id."""

from __future__ import annotations

import asyncpg

from db.committed import Change, transaction_changes
from db.pool import Actor, system_transaction, transaction
from tests.conftest import World

# Rows read from the audit log's partitions by this transaction so far.
AUDIT_ROWS_READ = """
    SELECT coalesce(sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)), 0)
    FROM pg_stat_xact_user_tables WHERE relname LIKE 'audit_logs%'"""


async def test_no_security_definer_function_is_plain_sql(pool: asyncpg.Pool) -> None:
    # PostgreSQL 15 plans a SECURITY DEFINER SQL function's body on every call (it cannot
    # inline it); PL/pgSQL keeps the plan for the connection's life.
    async with pool.acquire() as conn:
        planned_per_call = await conn.fetch("""
            SELECT p.proname FROM pg_proc p
            JOIN pg_language l ON l.oid = p.prolang
            JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'public' AND p.prosecdef AND l.lanname = 'sql'""")
    assert [r["proname"] for r in planned_per_call] == []


async def test_tx_changes_reads_only_its_own_audit_rows(pool: asyncpg.Pool,
                                                       world: World) -> None:
    org = await world.org()
    admin = await world.user(org, "admin")
    # Thousands of audit rows with a table name; their partition's statistics are whatever
    # they are (never gathered with autovacuum off): the lookup must not depend on them.
    async with system_transaction(pool) as conn:
        await conn.execute(
            "INSERT INTO clients (org_id, name) "
            "SELECT $1, 'Client ' || n FROM generate_series(1, 3000) AS n", org)
        client = await conn.fetchval(
            "SELECT id FROM clients WHERE org_id = $1 AND name = 'Client 1'", org)
    async with transaction(pool, Actor(admin["id"], org, "admin")) as conn:
        await conn.execute("UPDATE clients SET city = 'Bursa' WHERE id = $1", client)
        before = await conn.fetchval(AUDIT_ROWS_READ)
        changes = await transaction_changes(conn)
        read = await conn.fetchval(AUDIT_ROWS_READ) - before
    assert changes == [Change("clients", client, None, org)]
    assert read <= 5, f"fpm_tx_changes() read {read} audit rows to find its one"
