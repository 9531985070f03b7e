"""The statement counter the round-trip tests rely on counts what the app sends, not what
shares the pool by chance or what asyncpg sends on its own."""

from __future__ import annotations

import asyncio

from db.pool import create_pool
from tests.server.api import counting_statements


async def test_a_type_lookup_and_a_system_transaction_are_not_counted(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await conn.execute("CREATE TYPE pg_temp.pair AS (a int, b text)")
        async with counting_statements(pool) as counter:
            async with pool.acquire() as conn:
                # A composite asyncpg has not met: it looks the type up first.
                assert await conn.fetchval("SELECT ROW(1, 'x')::pg_temp.pair") == (1, "x")
                await asyncio.sleep(0)  # asyncpg calls query loggers soon, not at once
                assert counter.queries == ["SELECT ROW(1, 'x')::pg_temp.pair"]
                counter.reset()
                await conn.execute(
                    "BEGIN; SELECT set_config('role', 'formula_pm_system', true)")
                await conn.fetchval("SELECT 2")
                await conn.execute("COMMIT")
                await asyncio.sleep(0)
                assert counter.queries == []
                await conn.fetchval("SELECT 3")
                await asyncio.sleep(0)
                assert counter.queries == ["SELECT 3"]
    finally:
        await pool.close()


async def test_the_loggers_leave_with_the_counter(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        async with counting_statements(pool):
            pass
        async with pool.acquire() as first, pool.acquire() as second:
            for conn in (first, second):  # asyncpg's own set, called on every query
                assert not conn._con._query_loggers
    finally:
        await pool.close()
