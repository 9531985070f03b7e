"""/api/v1/tasks: project work items. Craftsmen report progress; planners edit the rest."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

import asyncpg
import pydantic
from aiohttp import web

from db.pool import transaction
from db.queries import tasks as queries
from db.queries.item_links import set_links
from db.queries.members import is_member
from db.queries.projects import is_visible
from rules.enums import PRIORITIES, TASK_STATUSES
from rules.tasks import completion
from server.auth.identity import Identity, actor, identity
from server.auth.permissions import Perm, require
from server.auth.session_copies import confirmed_in_database
from server.cache.reads import reads_record, record_response
from server.errors import Invalid, NotFound
from server.exports.route import exportable
from server.fields import (
    Hours,
    LongText,
    MediumText,
    MoneyOut,
    Name,
    Percent,
    RecordOut,
    ScopeItemIds,
    Tag,
    check_dates,
)
from server.keys import POOL
from server.openapi import doc
from server.records import delete_one, path_id, provided, visible_project, written
from server.rest import PageParams, SortKey, idempotent, if_match, json_response, keyset, record
from server.scope_links import save_links, scope_items_of, vet_links
from server.validation import ApiModel, read_body, read_query
from server.writes import writes

routes = web.RouteTableDef()

TaskStatus = Literal[TASK_STATUSES]  # type: ignore[valid-type]
Priority = Literal[PRIORITIES]  # type: ignore[valid-type]
PROGRESS_FIELDS = frozenset({"status", "progress", "actual_hours"})
SORTABLE = {
    "created_at": SortKey("created_at", "timestamptz"),
    "updated_at": SortKey("updated_at", "timestamptz"),
    # Nullable: tasks without a due date sort last (ascending); a date keeps cursors exact.
    "due_date": SortKey("coalesce(due_date, '9999-12-31'::date)", "date"),
    "priority": SortKey("array_position('{low,medium,high,urgent}'::text[], priority)", "int"),
    "name": SortKey("name", "text"),
}


class TaskFields(ApiModel):
    description: LongText | None = None
    status: TaskStatus | None = None
    priority: Priority | None = None
    assigned_to: uuid.UUID | None = None
    start_date: dt.date | None = None
    due_date: dt.date | None = None
    progress: Percent | None = None
    estimated_hours: Hours | None = None
    actual_hours: Hours | None = None
    category: MediumText | None = None
    tags: list[Tag] | None = pydantic.Field(None, max_length=50)
    scope_item_ids: ScopeItemIds | None = None

    @pydantic.model_validator(mode="after")
    def _dates(self) -> TaskFields:
        check_dates(self.start_date, self.due_date, "due_date")
        return self


class TaskCreate(TaskFields):
    project_id: uuid.UUID
    name: Name


class TaskPatch(TaskFields):
    NOT_NULL = ("name", "status", "priority", "progress", "tags", "scope_item_ids")
    name: Name | None = None


class TaskQuery(PageParams):
    project_id: uuid.UUID | None = None
    status: TaskStatus | None = None
    priority: Priority | None = None
    assigned_to: uuid.UUID | None = None


class TaskOut(RecordOut):
    org_id: uuid.UUID
    project_id: uuid.UUID
    name: str
    description: str | None
    status: TaskStatus
    priority: Priority
    assigned_to: uuid.UUID | None
    created_by: uuid.UUID | None
    start_date: dt.date | None
    due_date: dt.date | None
    progress: int
    estimated_hours: MoneyOut | None
    actual_hours: MoneyOut | None
    completed_at: dt.datetime | None
    category: str | None
    tags: list[str]
    legacy_id: str | None
    scope_item_ids: list[uuid.UUID]


def _require_for(who: Identity, changes: dict[str, Any]) -> None:
    """Beyond status, progress and actual_hours a change needs EDIT_TASKS."""
    if set(changes) - PROGRESS_FIELDS:
        require(who.role, Perm.EDIT_TASKS)


def _complete(values: dict[str, Any]) -> None:
    forced = completion(values.get("status")).progress
    if forced is not None:
        values["progress"] = forced


async def _check_assignee(conn: asyncpg.Connection, project_id: uuid.UUID,
                          assignee: uuid.UUID | None) -> None:
    if assignee is not None and not await is_member(conn, project_id, assignee):
        raise Invalid("The assignee must be a member of the project",
                      errors=[{"field": "assigned_to", "message": "not a project member"}])


@routes.get("/api/v1/tasks")
@exportable("tasks")
@doc(summary="List tasks (filter by project_id, status, priority, assigned_to)",
     query=TaskQuery, response=TaskOut, many=True, errors=[404])
async def list_tasks(request: web.Request) -> web.Response:
    params = read_query(request.query, TaskQuery)
    page = keyset(params, SORTABLE, "-created_at")
    filters = params.model_dump(include={"project_id", "status", "priority", "assigned_to"})
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        if params.project_id is not None:
            await visible_project(conn, params.project_id)
        rows = await queries.list_tasks(conn, page, filters)
    return json_response(page.page(rows))


@routes.post("/api/v1/tasks")
@doc(summary="Create a task", body=TaskCreate, response=TaskOut, status=201, errors=[403])
@idempotent
async def create_task(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.CREATE_TASKS)
    body = await read_body(request, TaskCreate)
    values = body.model_dump(exclude_none=True, exclude={"project_id"})
    _complete(values)
    async with writes(request) as conn:
        if not await is_visible(conn, body.project_id):
            raise Invalid("No such project",
                          errors=[{"field": "project_id", "message": "no such project"}])
        await _check_assignee(conn, body.project_id, body.assigned_to)
        if body.scope_item_ids is not None:
            values["scope_item_ids"] = await scope_items_of(conn, body.project_id,
                                                            body.scope_item_ids)
        row = await queries.create_task(conn, org_id=who.org_id, project_id=body.project_id,
                                        created_by=who.user_id, values=values)
        await set_links(conn, "tasks", row, row["scope_item_ids"])
        if row["assigned_to"] is not None and row["assigned_to"] != who.user_id:
            await queries.notify_assignee(conn, row, who.user_id)
    return json_response(record(row), status=201)


@routes.get("/api/v1/tasks/{id}")
@doc(summary="One task", response=TaskOut)
@reads_record("tasks")
async def get_task(request: web.Request) -> web.Response:
    task_id = path_id(request)
    return await record_response(request, "tasks", task_id, queries.get_task, "No such task")


@routes.patch("/api/v1/tasks/{id}")
@doc(summary="Change a task (craftsmen: status, progress and actual_hours only)",
     body=TaskPatch, response=TaskOut, errors=[403, 412])
@confirmed_in_database
async def patch_task(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.UPDATE_TASK_PROGRESS)
    task_id = path_id(request)
    version = if_match(request)
    changes = provided(await read_body(request, TaskPatch))
    _require_for(who, changes)
    _complete(changes)
    async with writes(request) as conn:
        before = None
        if changes.get("assigned_to") is not None or "scope_item_ids" in changes:
            before = await queries.get_task(conn, task_id)
            if before is None:
                raise NotFound("No such task")
            await _check_assignee(conn, before["project_id"], changes.get("assigned_to"))
            await vet_links(conn, before["project_id"], changes)
        row = await written(conn, "tasks", task_id,
                            await queries.update_task(conn, task_id, changes, version))
        await save_links(conn, "tasks", row, changes)
        if (before is not None and row["assigned_to"] is not None
                and row["assigned_to"] != before["assigned_to"]
                and row["assigned_to"] != who.user_id):
            await queries.notify_assignee(conn, row, who.user_id)
    return json_response(record(row))


@routes.delete("/api/v1/tasks/{id}")
@doc(summary="Delete a task", status=204, errors=[403, 412])
@confirmed_in_database
async def delete_task(request: web.Request) -> web.Response:
    require(identity(request).role, Perm.DELETE_TASKS)
    return await delete_one(request, "tasks", path_id(request))
