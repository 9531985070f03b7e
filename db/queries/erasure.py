"""Erasing a person (`formula-pm users erase`): their user row anonymised, and the personal
values of their audit rows replaced once the hash chain covers them (the digests stay in
`audit_erasures`, so `formula-pm audit verify` still passes). Run as the system role."""

from __future__ import annotations

import uuid

import asyncpg


async def find_user(conn: asyncpg.Connection, org_slug: str, email: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT u.id, u.org_id, u.status FROM users u JOIN organizations o ON o.id = u.org_id
           WHERE o.slug = $1 AND lower(u.email) = lower($2)""", org_slug, email)


async def anonymise_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """Replace every personal column of the user row (the audit trigger records the change,
    whose old values the erasure then replaces in turn)."""
    await conn.execute(
        """UPDATE users SET email = 'erased-' || id || '@erased.invalid',
                  first_name = 'Erased', last_name = 'User', position = NULL,
                  department = NULL, phone = NULL, skills = '{}', password_hash = NULL,
                  legacy_id = NULL, last_login_at = NULL, status = 'inactive'
           WHERE id = $1""", user_id)


async def unchained_rows(conn: asyncpg.Connection, user_id: uuid.UUID) -> int:
    """The person's audit rows the chain does not cover yet."""
    found: int = await conn.fetchval(
        """SELECT count(*) FROM audit_logs a
           WHERE ((a.table_name = 'users' AND a.record_id = $1) OR a.user_id = $1)
             AND NOT EXISTS (SELECT 1 FROM audit_chain_links l WHERE l.audit_id = a.id)""",
        user_id)
    return found


async def erase_audit_values(conn: asyncpg.Connection, user_id: uuid.UUID) -> tuple[int, int]:
    """(rows erased, rows left because the chain does not cover them yet)."""
    row = await conn.fetchrow("SELECT erased, waiting FROM fpm_erase_person($1)", user_id)
    assert row is not None
    return int(row["erased"]), int(row["waiting"])
