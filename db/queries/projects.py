"""Projects: visible through membership (row-level security), created with their creator
as the first member, summarised by the `project_summary` view."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

from db.queries.rows import Records, update_row

COLUMNS = ("name", "description", "type", "status", "priority", "budget", "start_date",
           "end_date", "progress", "location", "client_id", "project_manager_id",
           "practical_completion_on", "defects_period_months")
PROJECTS = Records("projects", filters=("status", "type", "priority", "client_id"))
list_projects = PROJECTS.page
get_project = PROJECTS.one


async def project_refs(conn: asyncpg.Connection, project_id: uuid.UUID) -> asyncpg.Record | None:
    """Who and what a visible project refers to (its org, manager, client and creator), and
    its RFI due period in working days."""
    return await conn.fetchrow(
        "SELECT id, org_id, project_manager_id, client_id, created_by, rfi_due_days "
        "FROM projects "
        "WHERE id = $1", project_id)


async def is_visible(conn: asyncpg.Connection, project_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT true FROM projects WHERE id = $1", project_id))


async def visible_ids(conn: asyncpg.Connection) -> list[uuid.UUID] | None:
    """The ids of the projects the actor can see; None when it sees every one of its
    organisation's (an org admin)."""
    if await conn.fetchval("SELECT app_is_org_admin()"):
        return None
    return list(await conn.fetchval("SELECT app_visible_project_ids()"))


async def create_project(conn: asyncpg.Connection, *, org_id: uuid.UUID, creator: uuid.UUID,
                         creator_role: str, values: Mapping[str, Any]) -> asyncpg.Record:
    """Insert, add the creator as a member, then read back.

    No RETURNING on the insert: the SELECT policy asks `app_visible_project_ids()`, whose
    snapshot cannot see a row written by the same statement."""
    project_id = uuid.uuid4()
    columns = [c for c in COLUMNS if c in values]
    placeholders = "".join(f", ${i + 4}" for i in range(len(columns)))
    names = "".join(", " + c for c in columns)
    await conn.execute(
        f"INSERT INTO projects (id, org_id, created_by{names}) "  # noqa: S608 - COLUMNS
        f"VALUES ($1, $2, $3{placeholders})",
        project_id, org_id, creator, *(values[c] for c in columns))
    await conn.execute(
        "INSERT INTO project_members (org_id, project_id, user_id, role) VALUES ($1, $2, $3, $4)",
        org_id, project_id, creator, creator_role)
    row = await get_project(conn, project_id)
    assert row is not None
    return row


async def update_project(conn: asyncpg.Connection, project_id: uuid.UUID,
                         changes: Mapping[str, Any], version: int | None) -> asyncpg.Record | None:
    return await update_row(conn, "projects", project_id, changes, version=version)


async def project_summary(conn: asyncpg.Connection,
                          project_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM project_summary WHERE project_id = $1", project_id)


async def org_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> asyncpg.Record | None:
    """A user of the caller's organisation (row-level security hides every other)."""
    return await conn.fetchrow(
        "SELECT id, role, status, first_name, last_name, email FROM users WHERE id = $1",
        user_id)


async def org_client_exists(conn: asyncpg.Connection, client_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT true FROM clients WHERE id = $1", client_id))
