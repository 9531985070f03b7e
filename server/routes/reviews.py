"""/api/v1/review-templates, /api/v1/reviews, /api/v1/review-tasks: the review engine.

A template (per project) has outcomes and ordered steps; starting a review of a record copies
it and opens the first step's tasks, each due its step's working days later in the project's
zone. Reviewers answer their tasks; the initiator (or an org admin) reassigns, skips a step
or terminates. The engine's writes after a caller's check run as the system role with the
caller named on every audit row: a client reviewer cannot see (so could not close or open)
the other reviewers' tasks their answer completes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import asyncpg
import pydantic
from aiohttp import web

from db.pool import system_transaction, transaction
from db.queries import attachments
from db.queries import reviews as queries
from rules import reviews as rv
from rules.enums import ROLES
from server import calendar
from server import review_engine as engine
from server import review_records as records
from server.auth.identity import Identity, actor, identity
from server.auth.permissions import Perm, require
from server.errors import Conflict, Invalid, NotFound
from server.exports.route import exportable
from server.fields import Keyword, LongText, Name, ShortText
from server.keys import POOL
from server.openapi import doc
from server.records import locked, path_id, provided, read_one, visible_project
from server.rest import PageParams, if_match, json_response, keyset, sortable
from server.validation import ApiModel, read_body, read_query
from server.writes import invalidation, writes

routes = web.RouteTableDef()

EntityType = Literal["shop_drawing", "material_spec"]
START_PERM = {"shop_drawing": Perm.SUBMIT_DRAWINGS, "material_spec": Perm.SUBMIT_MATERIALS}


class OutcomeIn(pydantic.BaseModel):
    label: Keyword
    status: Keyword


class ReviewerIn(pydantic.BaseModel):
    kind: Keyword
    ref: ShortText
    required: bool = True


class StepIn(pydantic.BaseModel):
    name: ShortText | None = None
    reviewers: Annotated[list[ReviewerIn], pydantic.Field(max_length=rv.REVIEWERS_MAX)] = []
    rule: Keyword = "all"
    count: int | None = None
    days: int = 5


class TemplateCreate(ApiModel):
    project_id: uuid.UUID
    name: Name
    outcomes: Annotated[list[OutcomeIn], pydantic.Field(max_length=rv.OUTCOMES_MAX + 1)]
    steps: Annotated[list[StepIn], pydantic.Field(max_length=rv.STEPS_MAX + 1)]


class TemplatePatch(ApiModel):
    """What a PATCH names replaces the template's; running reviews keep their copy."""

    NOT_NULL = ("name", "outcomes", "steps")
    name: Name | None = None
    outcomes: Annotated[list[OutcomeIn], pydantic.Field(max_length=rv.OUTCOMES_MAX + 1)] | None \
        = None
    steps: Annotated[list[StepIn], pydantic.Field(max_length=rv.STEPS_MAX + 1)] | None = None


SORTABLE = sortable(created_at="timestamptz")

class TemplateQuery(PageParams):
    project_id: uuid.UUID


class ReviewStart(ApiModel):
    """Without template_id the default review: one step, any project manager of the team."""

    entity_type: EntityType
    entity_id: uuid.UUID
    template_id: uuid.UUID | None = None


class ReviewQuery(PageParams):
    """A record's reviews (entity_type and entity_id), or a project's (project_id)."""

    entity_type: EntityType | None = None
    entity_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    status: Literal["in_progress", "completed", "terminated"] | None = None

    @pydantic.model_validator(mode="after")
    def _one_scope(self) -> ReviewQuery:
        record = (self.entity_type is not None, self.entity_id is not None)
        if record not in ((True, True), (False, False)) or all(record) == (
                self.project_id is not None):
            raise ValueError("name a record (entity_type and entity_id) or a project_id")
        return self


class Respond(ApiModel):
    outcome: Keyword
    comment: LongText | None = None
    # Files uploaded to the task first (POST /attachments, entity_type review_task).
    attachment_ids: Annotated[list[uuid.UUID], pydantic.Field(max_length=20)] = []


class Reassign(ApiModel):
    kind: Literal["user", "role", "client"]
    ref: ShortText
    comment: LongText | None = None


class Reason(ApiModel):
    comment: LongText | None = None


class TemplateOut(pydantic.BaseModel):
    id: uuid.UUID
    version: int
    project_id: uuid.UUID
    name: str
    outcomes: list[dict[str, Any]]
    steps: list[dict[str, Any]]


class ReviewOut(pydantic.BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    entity_type: str
    entity_id: uuid.UUID
    status: str
    current_step: int
    result: str | None
    result_status: str | None
    tasks: list[dict[str, Any]]
    ball_in_court: list[dict[str, Any]]


def _check_refs(template: rv.Template) -> None:
    """Users and clients are named by id, roles by a role name."""
    for i, step in enumerate(template.steps):
        for j, r in enumerate(step.reviewers):
            ok = r.ref in ROLES if r.kind == "role" else _is_uuid(r.ref)
            if not ok:
                raise Invalid("A user or client reviewer is named by id, a role by its name",
                              code="invalid_reviewer",
                              errors=[{"field": f"steps[{i}].reviewers[{j}].ref",
                                       "message": "unknown reviewer"}])


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _parsed(outcomes: list[Any], steps: list[Any]) -> rv.Template:
    """A template's outcomes and steps checked (422 naming the field)."""
    template = rv.parse_template(outcomes, steps, statuses=engine.ANY_STATUS)
    _check_refs(template)
    return template


async def _check_template_reviewers(conn: asyncpg.Connection, project_id: uuid.UUID,
                                    template: rv.Template) -> None:
    await engine.check_reviewers(conn, project_id, [
        (f"steps[{i}].reviewers[{j}].ref", r)
        for i, step in enumerate(template.steps) for j, r in enumerate(step.reviewers)])


@routes.post("/api/v1/review-templates")
@doc(summary="Create a project's review template (outcomes, ordered steps of reviewers)",
     body=TemplateCreate, response=TemplateOut, status=201, errors=[403, 404])
async def create_template(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.EDIT_PROJECTS)
    body = await read_body(request, TemplateCreate)
    template = _parsed([o.model_dump() for o in body.outcomes],
                       [s.model_dump(exclude_none=True) for s in body.steps])
    outcomes, steps = engine.template_json(template)
    async with writes(request) as conn:
        await visible_project(conn, body.project_id)
        await _check_template_reviewers(conn, body.project_id, template)
        row = await queries.create_template(conn, {
            "org_id": who.org_id, "project_id": body.project_id, "name": body.name,
            "outcomes": outcomes, "steps": steps, "created_by": who.user_id})
    return json_response(dict(row), status=201)


@routes.get("/api/v1/review-templates")
@exportable("review_templates")
@doc(summary="A project's review templates", query=TemplateQuery, response=TemplateOut,
     many=True, errors=[404])
async def list_templates(request: web.Request) -> web.Response:
    query = read_query(request.query, TemplateQuery)
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        await visible_project(conn, query.project_id)
        page = keyset(query, SORTABLE, "created_at")
        rows = await queries.TEMPLATES.page(conn, page, {"project_id": query.project_id})
    return json_response(page.page(rows, dict))


@routes.get("/api/v1/review-templates/{id}")
@doc(summary="One review template", response=TemplateOut, errors=[404])
async def get_template(request: web.Request) -> web.Response:
    row = await read_one(request, "review_templates", path_id(request), queries.template)
    return json_response(dict(row))


@routes.patch("/api/v1/review-templates/{id}")
@doc(summary="Change a review template (If-Match); running reviews keep the copy they "
     "started from", body=TemplatePatch, response=TemplateOut, errors=[403, 412])
async def patch_template(request: web.Request) -> web.Response:
    require(identity(request).role, Perm.EDIT_PROJECTS)
    template_id = path_id(request)
    version = if_match(request)
    changes = provided(await read_body(request, TemplatePatch))
    async with writes(request) as conn:
        current = await locked(conn, "review_templates", template_id, version)
        values: dict[str, Any] = {}
        if "name" in changes:
            values["name"] = changes["name"]
        if {"outcomes", "steps"} & changes.keys():
            body = TemplatePatch.model_validate(changes)
            outcomes = ([o.model_dump() for o in body.outcomes] if body.outcomes is not None
                        else current["outcomes"])
            steps = ([s.model_dump(exclude_none=True) for s in body.steps]
                     if body.steps is not None else current["steps"])
            template = _parsed(outcomes, steps)
            await _check_template_reviewers(conn, current["project_id"], template)
            values["outcomes"], values["steps"] = engine.template_json(template)
        changed = {k: v for k, v in values.items() if v != current[k]}
        row = await queries.update_template(conn, template_id, changed)
    return json_response(dict(row))


@routes.delete("/api/v1/review-templates/{id}")
@doc(summary="Delete a review template (If-Match); 409 while a review started from it runs",
     status=204, errors=[403, 409, 412])
async def delete_template(request: web.Request) -> web.Response:
    require(identity(request).role, Perm.EDIT_PROJECTS)
    template_id = path_id(request)
    version = if_match(request)
    async with writes(request) as conn:
        await locked(conn, "review_templates", template_id, version)
        running = await queries.running_reviews_of(conn, template_id)
        if running:
            raise Conflict("A review started from this template is running; it can be deleted "
                           "once that review ends", code="template_in_use",
                           extra={"review_ids": [str(r) for r in running]})
        await queries.delete_template(conn, template_id)
    return web.Response(status=204)


async def _template_for(conn: asyncpg.Connection, body: ReviewStart,
                        project_id: uuid.UUID) -> tuple[str, rv.Template]:
    """The template a review starts from: the one named (of the record's project), or the
    default review of the record's kind."""
    if body.template_id is None:
        return "Default review", records.default_template(body.entity_type)
    # Shared-locked until the review is written: a delete of the template waits, then sees
    # the running review (409).
    row = await queries.template(conn, body.template_id, share_lock=True)
    if row is None or row["project_id"] != project_id:
        raise Invalid("No such template in the record's project", code="validation_failed",
                      errors=[{"field": "template_id", "message": "not of this project"}])
    return str(row["name"]), rv.parse_template(row["outcomes"], row["steps"],
                                               statuses=engine.STATUSES[body.entity_type])


@routes.post("/api/v1/reviews")
@doc(summary="Start a review of a record from a template of its project", body=ReviewStart,
     response=ReviewOut, status=201, errors=[403, 404, 409])
async def start_review(request: web.Request) -> web.Response:
    who = identity(request)
    body = await read_body(request, ReviewStart)
    require(who.role, START_PERM[body.entity_type])
    async with writes(request) as conn:
        project_id = await queries.entity_project(conn, body.entity_type, body.entity_id)
        if project_id is None:
            raise NotFound(f"No such {body.entity_type.replace('_', ' ')}")
        await queries.lock_entity(conn, body.entity_type, body.entity_id)
        name, template = await _template_for(conn, body, project_id)
        records.check_outcomes(body.entity_type, template)
        if await queries.open_review(conn, body.entity_type, body.entity_id):
            raise Conflict("The record is under review already; terminate that review first",
                           code="review_in_progress")
        cal = await calendar.for_project(conn, project_id)
        today = calendar.today_in(cal)
        outcomes, steps = engine.template_json(template)
        review = await queries.create_review(conn, {
            "org_id": who.org_id, "project_id": project_id, "entity_type": body.entity_type,
            "entity_id": body.entity_id, "template_id": body.template_id, "name": name,
            "outcomes": outcomes, "steps": steps, "initiated_by": who.user_id,
            "started_on": today})
        first = rv.start(template, today, cal)
        await queries.add_tasks(conn, review, engine.new_task_values(first))
        await engine.tell_reviewers(conn, review, first, who.user_id)
        await records.put_under_review(conn, body.entity_type, body.entity_id, who.user_id,
                                       review["id"])
        await engine.trail(conn, "reviews", review, who.user_id, "start", None,
                           "in_progress", None, template=name)
        out = await queries.review(conn, review["id"])
    assert out is not None
    return json_response(engine.review_out(out), status=201)


@routes.get("/api/v1/reviews")
@exportable("reviews")
@doc(summary="A record's or a project's reviews, newest first, with their tasks and ball in "
     "court", query=ReviewQuery, response=ReviewOut, many=True, errors=[404])
async def list_reviews(request: web.Request) -> web.Response:
    query = read_query(request.query, ReviewQuery)
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        if query.project_id is not None:
            await visible_project(conn, query.project_id)
        page = keyset(query, SORTABLE, "-created_at")
        rows = await queries.reviews_of(conn, page, query.entity_type, query.entity_id,
                                        query.project_id, query.status)
    return json_response(page.page(rows, engine.review_out))


@routes.get("/api/v1/reviews/{id}")
@doc(summary="One review with its tasks and ball in court", response=ReviewOut, errors=[404])
async def get_review(request: web.Request) -> web.Response:
    row = await read_one(request, "reviews", path_id(request), queries.review)
    return json_response(engine.review_out(row))


async def _visible_task(request: web.Request, task_id: uuid.UUID) -> asyncpg.Record:
    return await read_one(request, "review_tasks", task_id, queries.task)


async def _visible_review(request: web.Request, review_id: uuid.UUID) -> None:
    await read_one(request, "reviews", review_id, queries.review)


async def _rv_actor(conn: asyncpg.Connection, who: Identity, project_id: uuid.UUID) -> rv.Actor:
    return await engine.actor_of(conn, who.user_id, who.client_id, project_id)


@contextlib.asynccontextmanager
async def _locked(request: web.Request, review_id: uuid.UUID
                  ) -> AsyncIterator[tuple[asyncpg.Connection, asyncpg.Record]]:
    """The review locked in a system transaction, for a caller whose sight of it was
    checked as themselves: an answer may close or open other reviewers' tasks, which the
    caller's own row-level security would hide. The audit rows name the caller."""
    async with system_transaction(request.app[POOL], await actor(request),
                                  on_commit=invalidation(request)) as conn:
        review = await queries.lock_review(conn, review_id)
        assert review is not None
        yield conn, review


async def _answer(conn: asyncpg.Connection, review_id: uuid.UUID) -> web.Response:
    row = await queries.review(conn, review_id)
    assert row is not None
    return json_response(engine.review_out(row))


@routes.post("/api/v1/review-tasks/{id}/respond")
@doc(summary="Answer a review task with one of the template's outcomes, a comment and the "
     "files uploaded to the task (attachment_ids)",
     body=Respond, response=ReviewOut, errors=[403, 404, 409])
async def respond(request: web.Request) -> web.Response:
    who = identity(request)
    task_id = path_id(request)
    body = await read_body(request, Respond)
    seen = await _visible_task(request, task_id)
    async with _locked(request, seen["review_id"]) as (conn, review):
        task = await queries.task(conn, task_id)
        assert task is not None
        who_rv = await _rv_actor(conn, who, review["project_id"])
        rv.check_respond(engine.template_of(review), review["status"], engine.task_of(task),
                         who_rv, body.outcome, body.comment)
        files = list(dict.fromkeys(body.attachment_ids))
        if set(files) - await attachments.ready_files_of(conn, "review_task", task_id, files):
            raise Invalid("Every file of a response is a completed upload to its task",
                          code="unknown_attachments",
                          errors=[{"field": "attachment_ids",
                                   "message": "not a completed file of this task"}])
        await queries.set_task(conn, task_id, {
            "state": "responded", "outcome": body.outcome, "comment": body.comment,
            "responded_by": who.user_id, "responded_at": dt.datetime.now(dt.UTC),
            "attachment_ids": files})
        cal = await calendar.for_project(conn, review["project_id"])
        await engine.trail(conn, "review_tasks", task, who.user_id, "respond", "pending",
                           "responded", body.comment, outcome=body.outcome, step=task["step"])
        await engine.advance(conn, review, cal, calendar.today_in(cal), None, who.user_id)
        return await _answer(conn, review["id"])


def _initiator(who: Identity, review: asyncpg.Record) -> None:
    rv.check_initiator(str(who.user_id), str(review["initiated_by"]), who.role == "admin")


@routes.post("/api/v1/review-tasks/{id}/reassign")
@doc(summary="Give a pending task to another reviewer (the initiator or an org admin)",
     body=Reassign, response=ReviewOut, errors=[403, 404, 409])
async def reassign(request: web.Request) -> web.Response:
    who = identity(request)
    task_id = path_id(request)
    body = await read_body(request, Reassign)
    seen = await _visible_task(request, task_id)
    to = rv.Reviewer(body.kind, body.ref.strip())
    async with _locked(request, seen["review_id"]) as (conn, review):
        task = await queries.task(conn, task_id)
        assert task is not None
        _initiator(who, review)
        current = engine.task_of(task)
        rv.check_reassign(review["status"], current, rv.Reviewer(to.kind, to.ref,
                                                                 current.reviewer.required))
        _check_refs(rv.Template((), (rv.Step("", (to,)),)))
        await engine.check_reviewers(conn, review["project_id"], [("ref", to)])
        await queries.set_task(conn, task_id, {
            "reviewer_kind": to.kind, "reviewer_ref": to.ref, "comment": body.comment,
            "assigned_at": dt.datetime.now(dt.UTC)})
        due = current.due or calendar.today_in(await calendar.for_project(
            conn, review["project_id"]))
        await engine.tell_reviewers(conn, review, [rv.NewTask(current.step, to, due)],
                                    who.user_id)
        await engine.trail(conn, "review_tasks", task, who.user_id, "reassign",
                           f"{current.reviewer.kind}:{current.reviewer.ref}",
                           f"{to.kind}:{to.ref}", body.comment)
        return await _answer(conn, review["id"])


@routes.post("/api/v1/reviews/{id}/skip")
@doc(summary="Skip the review's current step (recorded, no outcome)", body=Reason,
     response=ReviewOut, errors=[403, 404, 409])
async def skip_step(request: web.Request) -> web.Response:
    who = identity(request)
    review_id = path_id(request)
    body = await read_body(request, Reason)
    await _visible_review(request, review_id)
    async with _locked(request, review_id) as (conn, review):
        _initiator(who, review)
        cal = await calendar.for_project(conn, review["project_id"])
        await engine.skip(conn, review, cal, calendar.today_in(cal), body.comment,
                          who.user_id)
        return await _answer(conn, review_id)


@routes.post("/api/v1/reviews/{id}/terminate")
@doc(summary="Terminate the review: its pending tasks close", body=Reason,
     response=ReviewOut, errors=[403, 404, 409])
async def terminate(request: web.Request) -> web.Response:
    who = identity(request)
    review_id = path_id(request)
    body = await read_body(request, Reason)
    await _visible_review(request, review_id)
    async with _locked(request, review_id) as (conn, review):
        _initiator(who, review)
        pending = rv.terminate(review["status"],
                               [engine.task_of(t) for t in await queries.tasks_of(conn, review_id)])
        await queries.set_tasks_state(conn, list(pending), "closed", body.comment)
        await queries.set_review(conn, review_id, {
            "status": "terminated", "comment": body.comment,
            "finished_at": dt.datetime.now(dt.UTC)})
        await engine.trail(conn, "reviews", review, who.user_id, "terminate", "in_progress",
                           "terminated", body.comment)
        return await _answer(conn, review_id)
