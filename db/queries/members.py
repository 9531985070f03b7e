"""Project members: the rows that decide who sees a project."""

from __future__ import annotations

import uuid

import asyncpg

from db.queries.rows import PageLike, Records

# A derived table so that `id`, `created_at` of the member row sort unambiguously.
MEMBERS = """(SELECT m.*, jsonb_build_object('id', u.id, 'first_name', u.first_name,
                  'last_name', u.last_name, 'email', u.email, 'role', u.role) AS "user"
              FROM project_members m JOIN users u ON u.id = m.user_id) AS members"""
_MEMBER_ROWS = Records(MEMBERS, filters=("project_id",))


async def list_members(conn: asyncpg.Connection, project_id: uuid.UUID,
                       page: PageLike) -> list[asyncpg.Record]:
    return await _MEMBER_ROWS.page(conn, page, {"project_id": project_id})


async def get_member(conn: asyncpg.Connection, project_id: uuid.UUID,
                     user_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT * FROM {MEMBERS} WHERE project_id = $1 AND user_id = $2",  # noqa: S608 - MEMBERS
        project_id, user_id)


async def is_member(conn: asyncpg.Connection, project_id: uuid.UUID,
                    user_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval(
        "SELECT true FROM project_members WHERE project_id = $1 AND user_id = $2",
        project_id, user_id))


async def add_member(conn: asyncpg.Connection, *, org_id: uuid.UUID, project_id: uuid.UUID,
                     user_id: uuid.UUID, role: str) -> None:
    await conn.execute(
        "INSERT INTO project_members (org_id, project_id, user_id, role) VALUES ($1, $2, $3, $4)",
        org_id, project_id, user_id, role)


async def remove_member(conn: asyncpg.Connection, project_id: uuid.UUID, user_id: uuid.UUID,
                        version: int | None) -> bool:
    removed = await conn.fetchval(
        "DELETE FROM project_members WHERE project_id = $1 AND user_id = $2 "
        "AND ($3::int IS NULL OR version = $3) RETURNING id", project_id, user_id, version)
    return removed is not None


async def org_user_by_email(conn: asyncpg.Connection, email: str) -> asyncpg.Record | None:
    """A user of the caller's organisation by e-mail (row-level security hides every other)."""
    return await conn.fetchrow(
        "SELECT id, role, status FROM users WHERE lower(email) = lower($1)", email)


async def lock_member(conn: asyncpg.Connection, project_id: uuid.UUID,
                      user_id: uuid.UUID) -> int | None:
    """The member row's version, locked until the transaction ends; None if no such member."""
    version: int | None = await conn.fetchval(
        "SELECT version FROM project_members WHERE project_id = $1 AND user_id = $2 "
        "FOR UPDATE", project_id, user_id)
    return version


async def set_role(conn: asyncpg.Connection, project_id: uuid.UUID, user_id: uuid.UUID,
                   role: str) -> None:
    await conn.execute("UPDATE project_members SET role = $3 WHERE project_id = $1 "
                       "AND user_id = $2", project_id, user_id, role)


async def unassign_tasks(conn: asyncpg.Connection, project_id: uuid.UUID,
                         user_id: uuid.UUID) -> list[asyncpg.Record]:
    """Take the user off every task of the project; (id, name) of those tasks."""
    return list(await conn.fetch(
        "UPDATE tasks SET assigned_to = NULL WHERE project_id = $1 AND assigned_to = $2 "
        "RETURNING id, name", project_id, user_id))
