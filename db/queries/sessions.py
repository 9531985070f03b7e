"""Sign-in sessions: one row per login, holding the hash of the current refresh token."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

_IDENTITY = """
SELECT s.id AS session_id, s.user_id, s.revoked_at, s.expires_at, u.org_id, u.role, u.status,
       u.client_id, u.email, u.first_name, u.last_name
FROM user_sessions s JOIN users u ON u.id = s.user_id
WHERE s.id = $1
"""


async def session_identity(
    conn: asyncpg.Connection, session_id: uuid.UUID
) -> asyncpg.Record | None:
    """The session joined with its user's current role and status."""
    return await conn.fetchrow(_IDENTITY, session_id)


async def create_session(
    conn: asyncpg.Connection, *, session_id: uuid.UUID, user_id: uuid.UUID, org_id: uuid.UUID,
    refresh_hash: str, expires_at: dt.datetime, ip: str | None, user_agent: str | None,
) -> None:
    await conn.execute(
        """INSERT INTO user_sessions (id, user_id, org_id, refresh_hash, generation, expires_at,
                                      last_used_at, ip, user_agent)
           VALUES ($1, $2, $3, $4, 0, $5, now(), $6::inet, $7)""",
        session_id, user_id, org_id, refresh_hash, expires_at, ip, (user_agent or "")[:500],
    )


async def find_by_refresh_hash(
    conn: asyncpg.Connection, token_hash: str
) -> asyncpg.Record | None:
    """The session whose current or previous refresh token has this hash (locked)."""
    return await conn.fetchrow(
        """SELECT *, refresh_hash = $1 AS is_current FROM user_sessions
           WHERE refresh_hash = $1 OR previous_hash = $1
           ORDER BY refresh_hash = $1 DESC LIMIT 1 FOR UPDATE""",
        token_hash,
    )


async def rotate(conn: asyncpg.Connection, session_id: uuid.UUID, new_hash: str) -> int:
    """Make `new_hash` current, remember the old one for the grace window; new generation."""
    generation: int = await conn.fetchval(
        """UPDATE user_sessions
           SET previous_hash = refresh_hash, refresh_hash = $2, generation = generation + 1,
               rotated_at = now(), last_used_at = now()
           WHERE id = $1 RETURNING generation""",
        session_id, new_hash,
    )
    return generation


async def revoke(conn: asyncpg.Connection, session_id: uuid.UUID, reason: str) -> bool:
    status = await conn.execute(
        "UPDATE user_sessions SET revoked_at = now(), revoked_reason = $2 "
        "WHERE id = $1 AND revoked_at IS NULL", session_id, reason,
    )
    return bool(status.endswith(" 1"))


async def revoke_all_for_user(conn: asyncpg.Connection, user_id: uuid.UUID, reason: str, *,
                              keep: uuid.UUID | None = None) -> list[uuid.UUID]:
    """Revoke the user's live sessions but `keep` (the one asking); the ids revoked."""
    rows = await conn.fetch(
        "UPDATE user_sessions SET revoked_at = now(), revoked_reason = $2 "
        "WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $3 RETURNING id",
        user_id, reason, keep,
    )
    return [r["id"] for r in rows]


async def signed_in_from(
    conn: asyncpg.Connection, user_id: uuid.UUID, ip: str, days: int
) -> bool:
    """Whether the user started a session from this address within `days` days."""
    return bool(await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM user_sessions
                          WHERE user_id = $1 AND ip = $2::inet
                            AND created_at > now() - make_interval(days => $3))""",
        user_id, ip, days))


async def user_org(conn: asyncpg.Connection, user_id: uuid.UUID) -> uuid.UUID | None:
    """The organisation of a user (for the audit event of their revoked sessions)."""
    found: uuid.UUID | None = await conn.fetchval("SELECT org_id FROM users WHERE id = $1",
                                                  user_id)
    return found
