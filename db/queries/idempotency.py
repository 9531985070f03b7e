"""Idempotency keys of POST requests: claimed before the handler runs, holding its answer
after, released when it fails. Per user; the system role reads and writes them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg


async def claim(conn: asyncpg.Connection, user_id: uuid.UUID, key: str, method: str,
                path: str, request_hash: str, ttl: dt.timedelta) -> bool:
    """Take the key for a request (an expired claim of it is dropped first); False when it
    is held already."""
    await conn.execute("DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 "
                       "AND expires_at < now()", user_id, key)
    claimed = await conn.fetchval(
        """INSERT INTO idempotency_keys (user_id, key, method, path, request_hash, expires_at)
           VALUES ($1, $2, $3, $4, $5, now() + $6::interval)
           ON CONFLICT (user_id, key) DO NOTHING RETURNING 1""",
        user_id, key, method, path, request_hash, ttl)
    return bool(claimed)


async def held(conn: asyncpg.Connection, user_id: uuid.UUID, key: str) -> asyncpg.Record | None:
    """The key's row, locked for the transaction; None when it is gone."""
    return await conn.fetchrow("SELECT * FROM idempotency_keys WHERE user_id = $1 AND "
                               "key = $2 FOR UPDATE", user_id, key)


async def reclaim(conn: asyncpg.Connection, user_id: uuid.UUID, key: str) -> None:
    """Take over a claim whose request never answered: its clock starts again."""
    await conn.execute("UPDATE idempotency_keys SET created_at = now() "
                       "WHERE user_id = $1 AND key = $2", user_id, key)


async def store(conn: asyncpg.Connection, user_id: uuid.UUID, key: str, status: int,
                response: Any, headers: dict[str, str]) -> None:
    """The answer to replay for the key."""
    await conn.execute(
        "UPDATE idempotency_keys SET status = $3, response = $4, headers = $5 "
        "WHERE user_id = $1 AND key = $2", user_id, key, status, response, headers)


async def release(conn: asyncpg.Connection, user_id: uuid.UUID, key: str) -> None:
    """Drop a claim that holds no answer (its request failed): the key may be used again."""
    await conn.execute("DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 "
                       "AND status IS NULL", user_id, key)
