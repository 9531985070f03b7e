"""SQL of the review engine: templates, reviews of records and their reviewers' tasks. Runs
as the caller (row-level security: client users see only their own tasks and the reviews
that hold one)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from db.queries.rows import (
    PageLike,
    Records,
    delete_row,
    fetch_page,
    insert_row,
    lock_row,
    update_locked,
)

# The tables a review may be of, and where their rows live.
ENTITY_TABLES: Mapping[str, str] = {"shop_drawing": "shop_drawings",
                                    "material_spec": "material_specs"}


async def create_template(conn: asyncpg.Connection, values: Mapping[str, Any]) -> asyncpg.Record:
    return await insert_row(conn, "review_templates", values)


async def template(conn: asyncpg.Connection, template_id: uuid.UUID, *,
                   share_lock: bool = False) -> asyncpg.Record | None:
    """The template; with `share_lock`, held (against a delete) until the transaction ends."""
    sql = _TEMPLATE_SHARED if share_lock else _TEMPLATE
    return await conn.fetchrow(sql, template_id)


_TEMPLATE = "SELECT * FROM review_templates WHERE id = $1"
_TEMPLATE_SHARED = _TEMPLATE + " FOR SHARE"


async def update_template(conn: asyncpg.Connection, template_id: uuid.UUID,
                          changes: Mapping[str, Any]) -> asyncpg.Record:
    """Set `changes` on a template this transaction has locked (nothing: the row as it is)."""
    return await update_locked(conn, "review_templates", template_id, changes)


async def running_reviews_of(conn: asyncpg.Connection, template_id: uuid.UUID) -> list[uuid.UUID]:
    """The reviews in progress that started from the template (their project's staff, who
    alone edit templates, see every one of them)."""
    return [r["id"] for r in await conn.fetch(
        "SELECT id FROM reviews WHERE template_id = $1 AND status = 'in_progress' "
        "ORDER BY created_at LIMIT 20", template_id)]


async def delete_template(conn: asyncpg.Connection, template_id: uuid.UUID) -> None:
    """Delete a template this transaction has locked (finished reviews keep their copy)."""
    await delete_row(conn, "review_templates", template_id)


TEMPLATES = Records("review_templates", filters=("project_id",))


async def entity_project(conn: asyncpg.Connection, entity_type: str,
                         entity_id: uuid.UUID) -> uuid.UUID | None:
    """The project of a visible record of `entity_type` (a key of ENTITY_TABLES)."""
    table = ENTITY_TABLES[entity_type]
    project_id: uuid.UUID | None = await conn.fetchval(
        f"SELECT project_id FROM {table} WHERE id = $1", entity_id)  # noqa: S608 - ENTITY_TABLES
    return project_id


async def lock_entity(conn: asyncpg.Connection, entity_type: str, entity_id: uuid.UUID) -> None:
    """Lock the reviewed record: two reviews of it never start at once."""
    await lock_row(conn, ENTITY_TABLES[entity_type], entity_id)


async def create_review(conn: asyncpg.Connection, values: Mapping[str, Any]) -> asyncpg.Record:
    return await insert_row(conn, "reviews", values)


async def add_tasks(conn: asyncpg.Connection, review: asyncpg.Record,
                    tasks: Sequence[Mapping[str, Any]]) -> None:
    for task in tasks:
        await insert_row(conn, "review_tasks", {
            "org_id": review["org_id"], "project_id": review["project_id"],
            "review_id": review["id"], **task})


async def lock_review(conn: asyncpg.Connection, review_id: uuid.UUID) -> asyncpg.Record | None:
    """The review, locked: its responses, skips and reassignments queue behind each other."""
    return await conn.fetchrow("SELECT * FROM reviews WHERE id = $1 FOR UPDATE", review_id)


async def task(conn: asyncpg.Connection, task_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM review_tasks WHERE id = $1", task_id)


async def review_status(conn: asyncpg.Connection, review_id: uuid.UUID) -> str | None:
    status: str | None = await conn.fetchval("SELECT status FROM reviews WHERE id = $1",
                                             review_id)
    return status


async def tasks_of(conn: asyncpg.Connection, review_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(await conn.fetch(
        "SELECT * FROM review_tasks WHERE review_id = $1 ORDER BY step, created_at, id",
        review_id))


async def set_task(conn: asyncpg.Connection, task_id: uuid.UUID,
                   changes: Mapping[str, Any]) -> asyncpg.Record:
    return await update_locked(conn, "review_tasks", task_id, changes)


async def set_tasks_state(conn: asyncpg.Connection, task_ids: Sequence[uuid.UUID], state: str,
                          comment: str | None) -> None:
    """Close or skip several tasks, each one an audit row carrying the comment."""
    for task_id in task_ids:
        await update_locked(conn, "review_tasks", task_id, {"state": state, "comment": comment})


async def set_review(conn: asyncpg.Connection, review_id: uuid.UUID,
                     changes: Mapping[str, Any]) -> asyncpg.Record:
    return await update_locked(conn, "reviews", review_id, changes)


async def member_roles(conn: asyncpg.Connection, project_id: uuid.UUID,
                       user_id: uuid.UUID) -> frozenset[str]:
    """The roles the user holds on the project's team."""
    return frozenset(r["role"] for r in await conn.fetch(
        "SELECT role FROM project_members WHERE project_id = $1 AND user_id = $2",
        project_id, user_id))


WITH_TASKS = """r.*, coalesce((
    SELECT jsonb_agg(to_jsonb(t) ORDER BY t.step, t.created_at, t.id)
    FROM review_tasks t WHERE t.review_id = r.id), '[]'::jsonb) AS tasks"""


async def reviews_of(conn: asyncpg.Connection, page: PageLike, entity_type: str | None,
                     entity_id: uuid.UUID | None, project_id: uuid.UUID | None = None,
                     status: str | None = None) -> list[asyncpg.Record]:
    """One page of a record's (or a project's) visible reviews, of a status, with their
    visible tasks (a JSON array)."""
    return await fetch_page(conn, "reviews r", [("r.entity_type = {}", entity_type),
                                                ("r.entity_id = {}", entity_id),
                                                ("r.project_id = {}", project_id),
                                                ("r.status = {}", status)],
                            page, columns=WITH_TASKS)


async def review(conn: asyncpg.Connection, review_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {WITH_TASKS} FROM reviews r WHERE r.id = $1", review_id)  # noqa: S608 - constant


async def open_review(conn: asyncpg.Connection, entity_type: str, entity_id: uuid.UUID) -> bool:
    """Whether the record has a review in progress (the caller holds the record's lock)."""
    return bool(await conn.fetchval(
        "SELECT true FROM reviews WHERE entity_type = $1 AND entity_id = $2 "
        "AND status = 'in_progress' LIMIT 1", entity_type, entity_id))


async def reviewer_users(conn: asyncpg.Connection, project_id: uuid.UUID, kind: str,
                         ref: str) -> list[uuid.UUID]:
    """The users a reviewer stands for: the user; the team members holding the role; the
    active users of the client company."""
    if kind == "role":
        rows = await conn.fetch(
            "SELECT user_id AS id FROM project_members WHERE project_id = $1 AND role = $2",
            project_id, ref)
    elif kind == "client":
        rows = await conn.fetch(
            "SELECT id FROM users WHERE client_id = $1::text::uuid AND status = 'active'", ref)
    else:
        rows = await conn.fetch("SELECT id FROM users WHERE id = $1::text::uuid", ref)
    return [r["id"] for r in rows]
