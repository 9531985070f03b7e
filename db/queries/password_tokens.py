"""One-time set-password tokens (invitations and resets), kept as hashes."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg


async def replace(conn: asyncpg.Connection, user_id: uuid.UUID, token_hash: str, purpose: str,
                  ttl: dt.timedelta) -> None:
    """A new token of `purpose`, valid for `ttl`; the user's earlier unused tokens of the
    same purpose stop working."""
    await conn.execute(
        "UPDATE password_tokens SET used_at = now() "
        "WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL", user_id, purpose)
    await conn.execute(
        """INSERT INTO password_tokens (user_id, token_hash, purpose, expires_at)
           VALUES ($1, $2, $3, now() + $4::interval)""",
        user_id, token_hash, purpose, ttl)


async def consume(conn: asyncpg.Connection, token_hash: str) -> asyncpg.Record | None:
    """Mark a live token used and return it (user_id, purpose), or None."""
    return await conn.fetchrow(
        """UPDATE password_tokens SET used_at = now()
           WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
           RETURNING user_id, purpose""", token_hash)
