"""Users: sign-in look-ups (system role) and the org's user directory (as an actor)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

from db.queries.rows import Records, update_row

PUBLIC_COLUMNS = (
    "id, org_id, email, first_name, last_name, role, position, department, phone, status, "
    "client_id, skills, last_login_at, version, created_at, updated_at"
)
EDITABLE = ("first_name", "last_name", "position", "department", "phone", "skills", "role",
            "status", "client_id")


async def for_login(conn: asyncpg.Connection, email: str) -> asyncpg.Record | None:
    """The user with this e-mail (case-insensitive), with the hash; system role only."""
    return await conn.fetchrow(
        f"SELECT {PUBLIC_COLUMNS}, password_hash FROM users "  # noqa: S608 - PUBLIC_COLUMNS
        "WHERE lower(email) = lower($1)", email)


async def password_hash_of(conn: asyncpg.Connection, user_id: uuid.UUID) -> str | None:
    value: str | None = await conn.fetchval(
        "SELECT password_hash FROM users WHERE id = $1", user_id)
    return value


async def email_of(conn: asyncpg.Connection, user_id: uuid.UUID) -> str | None:
    email: str | None = await conn.fetchval("SELECT email FROM users WHERE id = $1", user_id)
    return email


# The org's user directory, as an actor (row-level security: the caller's organisation).
USERS = Records("users", filters=("role", "status"), columns=PUBLIC_COLUMNS)
get = USERS.one
list_users = USERS.page


async def create(conn: asyncpg.Connection, org_id: uuid.UUID, values: Mapping[str, Any],
                 password_hash: str | None) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""INSERT INTO users (org_id, email, password_hash, first_name, last_name, role,
                               position, department, phone, client_id, status)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            RETURNING {PUBLIC_COLUMNS}""",  # noqa: S608 - PUBLIC_COLUMNS
        org_id, values["email"], password_hash, values["first_name"], values["last_name"],
        values["role"], values.get("position"), values.get("department"), values.get("phone"),
        values.get("client_id"), "active" if password_hash else "invited")
    assert row is not None
    return row


async def update(conn: asyncpg.Connection, user_id: uuid.UUID, changes: Mapping[str, Any],
                 expected_version: int | None) -> asyncpg.Record | None:
    """Apply `changes` (keys from EDITABLE only); None when missing or stale."""
    editable = {c: v for c, v in changes.items() if c in EDITABLE}
    return await update_row(conn, "users", user_id, editable, version=expected_version,
                            returning=PUBLIC_COLUMNS)


async def set_password(conn: asyncpg.Connection, user_id: uuid.UUID, password_hash: str,
                       activate: bool = False) -> None:
    await conn.execute(
        """UPDATE users SET password_hash = $2,
               status = CASE WHEN $3 AND status = 'invited' THEN 'active' ELSE status END
           WHERE id = $1""", user_id, password_hash, activate)


async def upgrade_password_hash(conn: asyncpg.Connection, user_id: uuid.UUID, old_hash: str,
                                new_hash: str) -> None:
    """The same password under a stronger hash, unless the password changed meanwhile."""
    await conn.execute("UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
                       user_id, old_hash, new_hash)


async def touch_login(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await conn.execute("UPDATE users SET last_login_at = now() WHERE id = $1", user_id)


async def id_in_org(conn: asyncpg.Connection, org_slug: str, email: str) -> uuid.UUID | None:
    """The user with this e-mail (case-insensitive) in the organisation of this slug."""
    user_id: uuid.UUID | None = await conn.fetchval(
        """SELECT u.id FROM users u JOIN organizations o ON o.id = u.org_id
           WHERE o.slug = $1 AND lower(u.email) = lower($2)""", org_slug, email)
    return user_id


async def email_taken(conn: asyncpg.Connection, email: str) -> bool:
    """Across the whole service (system role): e-mail addresses are globally unique."""
    return bool(await conn.fetchval("SELECT 1 FROM users WHERE lower(email) = lower($1)", email))
