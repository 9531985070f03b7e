"""/api/v1/projects: membership decides who sees a project; roles decide who changes it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import asyncpg
import pydantic
from aiohttp import web

from db.pool import transaction
from db.queries import projects as queries
from rules.enums import PRIORITIES, PROJECT_STATUSES, PROJECT_TYPES
from server.audience import shaper, shown
from server.auth.identity import actor, identity
from server.auth.permissions import Perm, Role, require
from server.cache.reads import project_view, reads_record, record_response
from server.errors import Invalid, NotFound
from server.exports.route import exportable
from server.fields import (
    LongText,
    MediumText,
    Money,
    MoneyOut,
    Name,
    Percent,
    RecordOut,
    check_dates,
)
from server.keys import POOL
from server.openapi import doc
from server.records import delete_one, path_id, provided, written
from server.rest import PageParams, idempotent, if_match, json_response, keyset, record, sortable
from server.validation import ApiModel, read_body, read_query
from server.writes import writes

routes = web.RouteTableDef()

ProjectType = Literal[PROJECT_TYPES]  # type: ignore[valid-type]
ProjectStatus = Literal[PROJECT_STATUSES]  # type: ignore[valid-type]
Priority = Literal[PRIORITIES]  # type: ignore[valid-type]
SORTABLE = sortable(created_at="timestamptz", updated_at="timestamptz", name="text",
                     status="text")


class ProjectFields(ApiModel):
    description: LongText | None = None
    status: ProjectStatus | None = None
    priority: Priority | None = None
    client_id: uuid.UUID | None = None
    project_manager_id: uuid.UUID | None = None
    budget: Money | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    location: MediumText | None = None
    # Handover: the practical-completion date and the defects period after it (months).
    practical_completion_on: dt.date | None = None
    defects_period_months: Annotated[int, pydantic.Field(ge=0, le=120)] | None = None
    # Working days from an RFI's creation to its default due date (default 7).
    rfi_due_days: int | None = pydantic.Field(None, ge=0, le=365)

    @pydantic.model_validator(mode="after")
    def _dates(self) -> ProjectFields:
        check_dates(self.start_date, self.end_date, "end_date")
        return self


class ProjectCreate(ProjectFields):
    name: Name
    type: ProjectType


class ProjectPatch(ProjectFields):
    NOT_NULL = ("name", "type", "status", "priority", "progress", "defects_period_months",
                "rfi_due_days")
    name: Name | None = None
    type: ProjectType | None = None
    progress: Percent | None = None


class ProjectQuery(PageParams):
    status: ProjectStatus | None = None
    type: ProjectType | None = None
    priority: Priority | None = None
    client_id: uuid.UUID | None = None


class ProjectOut(RecordOut):
    org_id: uuid.UUID
    name: str
    description: str | None
    type: ProjectType
    status: ProjectStatus
    priority: Priority
    budget: MoneyOut | None = None  # absent for client users (an internal cost)
    start_date: dt.date | None
    end_date: dt.date | None
    progress: int
    location: str | None
    client_id: uuid.UUID | None
    project_manager_id: uuid.UUID | None
    created_by: uuid.UUID | None
    legacy_id: str | None
    # The project's own time zone (set through PUT /api/v1/calendar?project_id=); null:
    # the organisation's.
    time_zone: str | None = None
    practical_completion_on: dt.date | None = None
    defects_period_months: int = 12
    rfi_due_days: int  # working days from an RFI's creation to its default due date


class SummaryOut(pydantic.BaseModel):
    project_id: uuid.UUID
    org_id: uuid.UUID
    name: str
    status: ProjectStatus
    progress: int
    # The money figures are internal costs: absent for client users.
    budget: MoneyOut | None = None
    tasks_total: int
    tasks_by_status: dict[str, int]
    tasks_overdue: int
    scope_items_total: int
    scope_completion: MoneyOut
    scope_value: MoneyOut | None = None
    committed_material_cost: MoneyOut | None = None
    budget_remaining: MoneyOut | None = None
    specs_by_status: dict[str, int]
    drawings_by_status: dict[str, int]
    drawings_awaiting_action: int
    team_size: int




async def check_references(conn: asyncpg.Connection, values: dict[str, Any]) -> None:
    """client_id and project_manager_id must name records of the caller's organisation."""
    errors = []
    if values.get("client_id") and not await queries.org_client_exists(conn, values["client_id"]):
        errors.append({"field": "client_id", "message": "no such client"})
    manager = values.get("project_manager_id")
    if manager and await queries.org_user(conn, manager) is None:
        errors.append({"field": "project_manager_id", "message": "no such user"})
    if errors:
        raise Invalid("Some referenced records do not exist", errors=errors)


@routes.get("/api/v1/projects")
@exportable("projects")
@doc(summary="List the projects I can see", query=ProjectQuery, response=ProjectOut, many=True)
async def list_projects(request: web.Request) -> web.Response:
    params = read_query(request.query, ProjectQuery)
    page = keyset(params, SORTABLE, "-created_at")
    filters = params.model_dump(include={"status", "type", "priority", "client_id"})
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        rows = await queries.list_projects(conn, page, filters)
    return json_response(page.page(rows, shaper(request, "projects")))


@routes.post("/api/v1/projects")
@doc(summary="Create a project (the creator becomes a member; a project manager who names "
             "no project_manager_id becomes it)", body=ProjectCreate,
     response=ProjectOut, status=201, errors=[403])
@idempotent
async def create_project(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.CREATE_PROJECTS)
    body = await read_body(request, ProjectCreate)
    values = body.model_dump(exclude_none=True)
    if who.role == Role.PROJECT_MANAGER and "project_manager_id" not in body.model_fields_set:
        # A manager who opens a project runs it unless the body names someone (or null).
        values["project_manager_id"] = who.user_id
    async with writes(request) as conn:
        await check_references(conn, values)
        row = await queries.create_project(conn, org_id=who.org_id, creator=who.user_id,
                                           creator_role=who.role, values=values)
    return json_response(shown(request, "projects", record(row)), status=201)


@routes.get("/api/v1/projects/{id}")
@doc(summary="One project", response=ProjectOut)
@reads_record("projects")
async def get_project(request: web.Request) -> web.Response:
    project_id = path_id(request)
    return await record_response(request, "projects", project_id, queries.get_project,
                                 "No such project")


@routes.patch("/api/v1/projects/{id}")
@doc(summary="Change a project", body=ProjectPatch, response=ProjectOut, errors=[403, 412])
async def patch_project(request: web.Request) -> web.Response:
    require(identity(request).role, Perm.EDIT_PROJECTS)
    project_id = path_id(request)
    version = if_match(request)
    changes = provided(await read_body(request, ProjectPatch))
    async with writes(request) as conn:
        await check_references(conn, changes)
        row = await written(conn, "projects", project_id,
                            await queries.update_project(conn, project_id, changes, version))
    return json_response(shown(request, "projects", record(row)))


@routes.delete("/api/v1/projects/{id}")
@doc(summary="Delete a project and everything in it", status=204, errors=[403, 412])
async def delete_project(request: web.Request) -> web.Response:
    require(identity(request).role, Perm.DELETE_PROJECTS)
    return await delete_one(request, "projects", path_id(request))


@routes.get("/api/v1/projects/{id}/summary")
@doc(summary="Counts by status, completion, budget vs. committed cost, drawings awaiting action",
     response=SummaryOut)
async def project_summary(request: web.Request) -> web.Response:
    project_id = path_id(request)

    async def load() -> dict[str, Any]:
        async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
            row = await queries.project_summary(conn, project_id)
        if row is None:
            raise NotFound("No such project")
        return dict(row)

    # The cached summary is the whole one: client users get theirs without the money.
    summary = await project_view(request, project_id, "summary", {}, load)
    return json_response(shown(request, "project_summary", summary))
