"""Tasks of a project: list with keyset pages on indexed keys, completion bookkeeping,
and the assignment notification."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

from db.queries.notifications import notify
from db.queries.rows import Records, update_row
from rules.tasks import Stamp
from rules.tasks import completion as decide_completion

COLUMNS = ("name", "description", "status", "priority", "assigned_to", "start_date", "due_date",
           "progress", "estimated_hours", "actual_hours", "category", "tags", "scope_item_ids")
TASKS = Records("tasks", filters=("project_id", "status", "priority", "assigned_to"))
list_tasks = TASKS.page
get_task = TASKS.one


_COMPLETED_AT = {Stamp.SET: "coalesce(completed_at, now())", Stamp.CLEAR: "NULL"}


def completion(status: str | None) -> dict[str, str]:
    """Raw SQL assignments for a status change (`rules.tasks`): completing stamps
    completed_at (once), any other status clears it."""
    stamp = decide_completion(status).completed_at
    return {} if stamp is Stamp.KEEP else {"completed_at": _COMPLETED_AT[stamp]}


async def create_task(conn: asyncpg.Connection, *, org_id: uuid.UUID, project_id: uuid.UUID,
                      created_by: uuid.UUID, values: Mapping[str, Any]) -> asyncpg.Record:
    columns = [c for c in COLUMNS if c in values]
    placeholders = "".join(f", ${i + 4}" for i in range(len(columns)))
    stamp = decide_completion(values.get("status")).completed_at
    done = "now()" if stamp is Stamp.SET else "NULL"
    row = await conn.fetchrow(
        f"INSERT INTO tasks (org_id, project_id, created_by, completed_at"  # noqa: S608 - COLUMNS
        f"{''.join(', ' + c for c in columns)}) VALUES ($1, $2, $3, {done}{placeholders}) "
        "RETURNING *", org_id, project_id, created_by, *(values[c] for c in columns))
    assert row is not None
    return row


async def update_task(conn: asyncpg.Connection, task_id: uuid.UUID,
                      changes: Mapping[str, Any], version: int | None) -> asyncpg.Record | None:
    return await update_row(conn, "tasks", task_id, changes, version=version,
                            raw=completion(changes.get("status")))


async def notify_assignee(conn: asyncpg.Connection, task: Mapping[str, Any],
                          assigned_by: uuid.UUID) -> None:
    """A `task_assigned` notification for the assignee (no RETURNING: the row is not the
    caller's to read)."""
    by = await conn.fetchval("SELECT first_name || ' ' || last_name FROM users WHERE id = $1",
                             assigned_by)
    await notify(
        conn, org_id=task["org_id"], user_ids=[task["assigned_to"]],
        project_id=task["project_id"], kind="task_assigned",
        title=f"Task assigned: {task['name']}"[:300],
        message=f"{by or 'Someone'} assigned you the task \"{task['name']}\"",
        data={"task_id": str(task["id"]), "project_id": str(task["project_id"]),
              "assigned_by": str(assigned_by)})
