"""Advisory locks held until the transaction ends: one of two concurrent writers waits."""

from __future__ import annotations

import asyncpg


async def hold_for_transaction(conn: asyncpg.Connection, key: int | str) -> None:
    """Wait for, then hold until COMMIT or ROLLBACK, the lock of `key` (a text names the
    lock of its 64-bit hash)."""
    if isinstance(key, str):
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)
    else:
        await conn.execute("SELECT pg_advisory_xact_lock($1)", key)


async def try_session_lock(conn: asyncpg.Connection, key: str) -> bool:
    """Take the session-level lock of `key` (a text's 64-bit hash) if nobody holds it;
    the caller releases it with `unlock_session` on the same connection."""
    got: bool = await conn.fetchval("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", key)
    return got


async def unlock_session(conn: asyncpg.Connection, key: str) -> None:
    await conn.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", key)
