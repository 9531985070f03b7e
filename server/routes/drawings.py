"""The drawing register: drawings of a project, their ISO 19650 revisions, publish (which
supersedes the current revision in the same transaction) and bulk upload from file names.

Rules (disciplines, revision and status codes, guesses) are `rules.drawings_register`.
Client users read published revisions only (row-level security, migration 0022).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Annotated, Any

import asyncpg
import pydantic
from aiohttp import web

from db.pool import transaction
from db.queries import drawings as queries
from db.queries import notifications as notes
from db.queries import punch_items
from db.queries import transmittals as sent
from db.queries.comments import author_name
from db.queries.projects import is_visible
from rules import drawings_register as reg
from rules.errors import RuleError
from server import drawing_text
from server.auth.identity import actor, identity
from server.auth.permissions import Perm, require
from server.errors import Conflict, Invalid, NotFound, rule_problem
from server.exports.route import exportable
from server.fields import Name, RecordOut
from server.keys import POOL
from server.openapi import doc
from server.records import missing_or_stale, path_id, provided
from server.rest import (
    PageParams,
    SortKey,
    idempotent,
    if_match,
    json_response,
    keyset,
    record,
)
from server.text import MULTI_LINE, ONE_LINE
from server.validation import ApiModel, read_body, read_query
from server.writes import writes

routes = web.RouteTableDef()
TAGS = ["drawings"]
SORTABLE = {
    "number": SortKey("d.number", "text"),
    "created_at": SortKey("d.created_at", "timestamptz"),
    "updated_at": SortKey("d.updated_at", "timestamptz"),
}
Number = Annotated[str, pydantic.Field(min_length=1, max_length=reg.NUMBER_MAX), ONE_LINE]
DisciplineCode = Annotated[str, pydantic.Field(min_length=1, max_length=4), ONE_LINE,
                           pydantic.Field(json_schema_extra={"enum": list(reg.DISCIPLINE_CODES)})]
SetName = Annotated[str, pydantic.Field(min_length=1, max_length=100), ONE_LINE]
RevisionCode = Annotated[str, pydantic.Field(min_length=3, max_length=6), ONE_LINE,
                         pydantic.Field(examples=["P01.01", "P01", "C01"])]
StatusCode = Annotated[str, pydantic.Field(min_length=2, max_length=3), ONE_LINE,
                       pydantic.Field(examples=["S0", "S2", "A1", "B1", "CR"])]
Reason = Annotated[str, pydantic.Field(max_length=2000), MULTI_LINE]
FileName = Annotated[str, pydantic.Field(min_length=1, max_length=255), ONE_LINE]
MAX_BULK = 200


class DrawingCreate(ApiModel):
    number: Number
    title: Name
    drawing_set: SetName | None = None
    discipline_override: DisciplineCode | None = None


class DrawingPatch(ApiModel):
    NOT_NULL = ("number", "title")
    number: Number | None = None
    title: Name | None = None
    drawing_set: SetName | None = None
    discipline_override: DisciplineCode | None = None


class DrawingQuery(PageParams):
    current: bool = False
    discipline: DisciplineCode | None = None
    drawing_set: SetName | None = None


class RevisionCreate(ApiModel):
    revision: RevisionCode
    status: StatusCode | None = None
    attachment_id: uuid.UUID | None = None
    file_name: FileName | None = None
    reason: Reason | None = None


class RevisionOut(RecordOut):
    org_id: uuid.UUID
    project_id: uuid.UUID
    drawing_id: uuid.UUID
    revision: str
    revision_kind: str
    status: str
    attachment_id: uuid.UUID | None
    file_name: str | None
    issued_by: uuid.UUID | None
    issued_at: dt.datetime
    published_by: uuid.UUID | None
    published_at: dt.datetime | None
    superseded_at: dt.datetime | None
    is_current: bool
    is_superseded: bool
    reason: str | None


class DrawingOut(RecordOut):
    org_id: uuid.UUID
    project_id: uuid.UUID
    number: str
    title: str
    discipline: str | None
    discipline_name: str | None
    discipline_override: str | None
    drawing_set: str | None
    current_revision_id: uuid.UUID | None
    current_revision: RevisionOut | None
    created_by: uuid.UUID | None


class DrawingWithRevisions(DrawingOut):
    revisions: list[RevisionOut]


class PublishOut(RevisionOut):
    superseded_revision_id: uuid.UUID | None


class BulkFile(ApiModel):
    file_name: FileName
    attachment_id: uuid.UUID | None = None
    # The confirmed (or corrected) guess; what is left out is taken from the guess.
    number: Number | None = None
    title: Name | None = None
    revision: RevisionCode | None = None
    status: StatusCode | None = None
    drawing_set: SetName | None = None


class BulkIn(ApiModel):
    files: list[BulkFile] = pydantic.Field(min_length=1, max_length=MAX_BULK)


class BulkQuery(ApiModel):
    dry_run: bool = False


class BulkItem(pydantic.BaseModel):
    file_name: str
    attachment_id: uuid.UUID | None
    number: str | None
    title: str | None
    revision: str | None
    status: str | None
    discipline: str | None
    source: str
    drawing_id: uuid.UUID | None
    new_drawing: bool
    problems: list[dict[str, str]]
    revision_id: uuid.UUID | None = None


class BulkOut(pydantic.BaseModel):
    dry_run: bool
    ok: bool
    items: list[BulkItem]


def revision_out(row: Mapping[str, Any]) -> dict[str, Any]:
    out = record(row)
    out["revision_kind"] = reg.revision_kind(out["revision"])
    out["is_superseded"] = out.get("superseded_at") is not None
    return out


def drawing_out(row: Mapping[str, Any]) -> dict[str, Any]:
    out = record(row)
    out["discipline_name"] = reg.discipline_name(out.get("discipline"))
    current = out.get("current_revision")
    # Row-level security hides nothing here: a current revision is always published.
    out["current_revision"] = revision_out(current) if current else None
    return out


def _normalised(changes: Mapping[str, Any],
                before: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`changes` with the number and override normalised and, when either changes, the
    discipline they make (`before`: the drawing's stored values, for a PATCH)."""
    values = dict(changes)
    try:
        if values.get("number") is not None:
            values["number"] = reg.normal_number(values["number"])
        if values.get("discipline_override") is not None:
            values["discipline_override"] = reg.normal_discipline(values["discipline_override"])
        if "number" in values or "discipline_override" in values:
            old = before or {}
            values["discipline"] = reg.discipline_of(
                values.get("number", old.get("number", "")),
                values.get("discipline_override", old.get("discipline_override")))
    except RuleError as exc:
        raise rule_problem(exc) from None
    return values


async def _project(conn: asyncpg.Connection, project_id: uuid.UUID) -> None:
    if not await is_visible(conn, project_id):
        raise NotFound("No such project")


@routes.get("/api/v1/projects/{id}/drawings")
@exportable("drawings")
@doc(summary="The drawing register of a project (current=true: the current set, drawings "
     "with their current published revision)", query=DrawingQuery, response=DrawingOut,
     many=True, tags=TAGS)
async def list_drawings(request: web.Request) -> web.Response:
    project_id = path_id(request)
    params = read_query(request.query, DrawingQuery)
    page = keyset(params, SORTABLE, "number")
    filters = params.model_dump(include={"current", "discipline", "drawing_set"})
    if filters.get("discipline"):
        filters["discipline"] = filters["discipline"].upper()
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        await _project(conn, project_id)
        rows = await queries.list_drawings(conn, project_id, page, filters)
    return json_response(page.page(rows, drawing_out))


@routes.post("/api/v1/projects/{id}/drawings")
@doc(summary="Add a drawing to the register (its discipline from the number's prefix, or "
     "the override)", body=DrawingCreate, response=DrawingOut, status=201,
     errors=[403, 404, 409], tags=TAGS)
@idempotent
async def create_drawing(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.CREATE_DRAWINGS)
    project_id = path_id(request)
    body = await read_body(request, DrawingCreate)
    values = _normalised(body.model_dump(exclude_none=True))
    async with writes(request) as conn:
        await _project(conn, project_id)
        row = await queries.create_drawing(conn, org_id=who.org_id, project_id=project_id,
                                           created_by=who.user_id, values=values)
    return json_response(drawing_out(row), status=201)


@routes.get("/api/v1/drawings/{id}")
@doc(summary="One drawing with its revisions (superseded ones marked)",
     response=DrawingWithRevisions, errors=[404], tags=TAGS)
async def get_drawing(request: web.Request) -> web.Response:
    drawing_id = path_id(request)
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        row = await queries.get_drawing(conn, drawing_id)
        if row is None:
            raise NotFound("No such drawing")
        revisions = await queries.revisions_of(conn, drawing_id)
    out = drawing_out(row)
    out["revisions"] = [revision_out(r) for r in revisions]
    return json_response(out)


@routes.patch("/api/v1/drawings/{id}")
@doc(summary="Change a drawing's number, title, set or discipline override",
     body=DrawingPatch, response=DrawingOut, errors=[403, 404, 409, 412], tags=TAGS)
async def patch_drawing(request: web.Request) -> web.Response:
    require(identity(request).role, Perm.EDIT_DRAWINGS)
    drawing_id = path_id(request)
    version = if_match(request)
    changes = provided(await read_body(request, DrawingPatch))
    async with writes(request) as conn:
        before = await queries.get_drawing(conn, drawing_id)
        if before is None:
            raise NotFound("No such drawing")
        values = _normalised(changes, before)
        if not await queries.update_drawing(conn, drawing_id, values, version):
            await missing_or_stale(conn, "drawings", drawing_id)
        row = await queries.get_drawing(conn, drawing_id)
    assert row is not None
    return json_response(drawing_out(row))


@routes.delete("/api/v1/drawings/{id}")
@doc(summary="Delete a drawing and its revisions (project managers and admins)", status=204,
     errors=[403, 404, 412], tags=TAGS)
async def delete_drawing(request: web.Request) -> web.Response:
    require(identity(request).role, Perm.REVIEW_DRAWINGS)
    drawing_id = path_id(request)
    version = if_match(request)
    async with writes(request) as conn:
        if await queries.lock_drawing(conn, drawing_id) is None:
            raise NotFound("No such drawing")
        if not await queries.delete_drawing(conn, drawing_id, version):
            await missing_or_stale(conn, "drawings", drawing_id)
    return web.Response(status=204)


@routes.get("/api/v1/drawings/{id}/revisions")
@exportable("drawing_revisions")
@doc(summary="A drawing's revisions, oldest first (client users: published ones)",
     response=RevisionOut, many=True, errors=[404], tags=TAGS)
async def list_revisions(request: web.Request) -> web.Response:
    drawing_id = path_id(request)
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        if await queries.get_drawing(conn, drawing_id) is None:
            raise NotFound("No such drawing")
        rows = await queries.revisions_of(conn, drawing_id)
    return json_response({"data": [revision_out(r) for r in rows]})


def _codes(revision: str, status: str | None) -> tuple[str, str]:
    try:
        code = reg.parse_revision(revision).code
        return reg.check_codes(code, status or reg.default_status(code))
    except RuleError as exc:
        raise rule_problem(exc) from None


async def _check_attachment(conn: asyncpg.Connection, project_id: uuid.UUID,
                            attachment_id: uuid.UUID | None, field: str) -> None:
    if attachment_id is not None and (
            await queries.attachment_project(conn, attachment_id) != project_id):
        raise Invalid("The attachment is not one of this project's",
                      errors=[{"field": field, "message": "no such attachment in the project"}])


@routes.post("/api/v1/drawings/{id}/revisions")
@doc(summary="Issue a new revision (unpublished until a project manager publishes it); it "
     "must follow every earlier revision (P01.01 < P01 < P02 < C01)", body=RevisionCreate,
     response=RevisionOut, status=201, errors=[403, 404, 409], tags=TAGS)
@idempotent
async def create_revision(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.EDIT_DRAWINGS)
    drawing_id = path_id(request)
    body = await read_body(request, RevisionCreate)
    revision, status = _codes(body.revision, body.status)
    values = body.model_dump(exclude_none=True) | {"revision": revision, "status": status}
    async with writes(request) as conn:
        drawing = await queries.lock_drawing(conn, drawing_id)
        if drawing is None:
            raise NotFound("No such drawing")
        try:
            reg.check_next(await queries.revision_codes(conn, drawing_id), revision)
        except RuleError as exc:
            raise rule_problem(exc) from None
        await _check_attachment(conn, drawing["project_id"], body.attachment_id,
                                "attachment_id")
        row = await queries.create_revision(conn, drawing, issued_by=who.user_id,
                                            values=values)
    return json_response(revision_out(row), status=201)


async def _tell_superseded(conn: asyncpg.Connection, old: Mapping[str, Any],
                           new: Mapping[str, Any], drawing: Mapping[str, Any],
                           actor_id: uuid.UUID) -> None:
    """Each recipient of a transmittal that carried the superseded revision is told."""
    users = await sent.recipients_of_revision(conn, old["id"])
    if not users:
        return
    who = await author_name(conn, actor_id)
    what = f"{drawing['number']} {old['revision']}"
    await notes.notify(
        conn, org_id=drawing["org_id"], user_ids=users, project_id=drawing["project_id"],
        kind="drawing_superseded", title=f"Superseded: {what}"[:300],
        message=(f"{who} published {drawing['number']} {new['revision']}, which supersedes "
                 f"{old['revision']} sent to you; use the new revision.")[:2000],
        data={"entity_type": "drawing_revision", "entity_id": str(old["id"]),
              "superseded_by": str(new["id"]), "drawing_id": str(drawing["id"]),
              "project_id": str(drawing["project_id"])})


@routes.post("/api/v1/drawing-revisions/{id}/publish")
@doc(summary="Publish a revision (project managers and admins): it becomes the drawing's "
     "current revision and supersedes the previous one in the same transaction",
     response=PublishOut, errors=[403, 404, 409], tags=TAGS)
async def publish_revision(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.REVIEW_DRAWINGS)
    revision_id = path_id(request)
    async with writes(request) as conn:
        found = await queries.get_revision(conn, revision_id)
        if found is None:
            raise NotFound("No such drawing revision")
        drawing = await queries.lock_drawing(conn, found["drawing_id"])
        revision = await queries.get_revision(conn, revision_id)  # as of the lock
        if drawing is None or revision is None:
            raise NotFound("No such drawing revision")
        if revision["published_at"] is not None:
            raise Conflict("The revision is already published"
                           + (" and superseded" if revision["superseded_at"] else ""),
                           code="already_published")
        if not reg.publishable(revision["revision"]):
            raise Conflict("A work-in-progress version (P01.01) is never published; issue "
                           "it as a preliminary or contractual revision",
                           code="not_publishable")
        current = await queries.get_revision(conn, drawing["current_revision_id"]) \
            if drawing["current_revision_id"] else None
        if current is not None and (reg.parse_revision(revision["revision"])
                                    < reg.parse_revision(current["revision"])):
            raise Conflict(f"The current revision {current['revision']} is later than "
                           f"{revision['revision']}", code="older_than_current",
                           extra={"current_revision_id": str(current["id"])})
        old = await queries.supersede_current(conn, drawing["id"])
        row = await queries.mark_published(conn, revision_id, who.user_id)
        await queries.set_current(conn, drawing["id"], revision_id)
        if old is not None:
            # The snags pinned on the superseded sheet move to the new one, to be checked.
            await punch_items.carry_pins(conn, old["id"], revision_id, "closed")
            await _tell_superseded(conn, old, row, drawing, who.user_id)
    out = revision_out(row)
    out["superseded_revision_id"] = old["id"] if old is not None else None
    return json_response(out)


def _bulk_item(file: BulkFile, guess: reg.Guess,
               taken: Mapping[str, uuid.UUID]) -> dict[str, Any]:
    """The guess for one file, the confirmation's corrections applied, and what is wrong."""
    problems: list[dict[str, str]] = []
    number = file.number or guess.number
    revision = file.revision or guess.revision
    status = file.status
    discipline = None
    if number is None:
        problems.append({"field": "number", "message": "no drawing number found"})
    else:
        try:
            number = reg.normal_number(number)
            discipline = reg.discipline_of(number)
        except RuleError:
            problems.append({"field": "number", "message": "not a drawing number"})
    if revision is None:
        problems.append({"field": "revision", "message": "no revision code found"})
    else:
        try:
            revision, status = reg.check_codes(revision, status or reg.default_status(revision))
        except RuleError as exc:
            problems.extend(exc.errors)
    title = file.title or guess.title
    drawing_id = taken.get(number) if number else None
    if title is None and drawing_id is None:
        problems.append({"field": "title", "message": "a new drawing needs a title"})
    return {"file_name": file.file_name, "attachment_id": file.attachment_id, "number": number,
            "title": title, "revision": revision, "status": status, "discipline": discipline,
            "source": "confirmed" if file.number else guess.source, "drawing_id": drawing_id,
            "new_drawing": drawing_id is None, "problems": problems,
            "drawing_set": file.drawing_set}


@routes.post("/api/v1/projects/{id}/drawings/bulk")
@doc(summary="Bulk upload: guess number, title and revision of each file from its name "
     "(dry_run=true answers the guesses for confirmation; without it the drawings and "
     "revisions are created in one transaction, or nothing when any file has a problem)",
     query=BulkQuery, body=BulkIn, response=BulkOut, errors=[403, 404, 409], tags=TAGS)
@idempotent
async def bulk_upload(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.CREATE_DRAWINGS)
    project_id = path_id(request)
    dry_run = read_query(request.query, BulkQuery).dry_run
    body = await read_body(request, BulkIn)
    guesses = await _guesses(request, project_id, body.files)
    async with writes(request) as conn:
        await _project(conn, project_id)
        numbers = []
        for f, g in zip(body.files, guesses, strict=True):
            try:
                numbers.append(reg.normal_number(f.number or g.number or ""))
            except RuleError:
                continue
        taken = await queries.numbers_taken(conn, project_id, numbers)
        items = [_bulk_item(f, g, taken) for f, g in zip(body.files, guesses, strict=True)]
        seen: set[tuple[str, str]] = set()
        for i, item in enumerate(items):
            await _check_bulk_attachment(conn, project_id, item, i)
            key = (item["number"], item["revision"])
            if None not in key and key in seen:
                item["problems"].append({"field": "revision",
                                         "message": "the same revision twice in this upload"})
            seen.add(key)
        ok = not any(item["problems"] for item in items)
        if not dry_run:
            if not ok:
                raise Invalid("Some files need a correction; nothing was saved",
                              code="bulk_problems",
                              errors=[{"field": f"files[{i}].{p['field']}",
                                       "message": p["message"]}
                                      for i, item in enumerate(items) for p in item["problems"]])
            await _bulk_create(conn, who.org_id, who.user_id, project_id, items)
    for item in items:
        item.pop("drawing_set", None)
    return json_response({"dry_run": dry_run, "ok": ok, "items": items},
                         status=200 if dry_run else 201)


async def _guesses(request: web.Request, project_id: uuid.UUID,
                   files: list[BulkFile]) -> list[reg.Guess]:
    """Each file's guess from its name; where the name holds no number (and none was
    confirmed), filled from the text layer of its uploaded PDF (server/drawing_text.py),
    read outside any transaction."""
    guesses = [reg.guess_from_file_name(f.file_name) for f in files]
    wanted = {i: f.attachment_id for i, (f, g) in enumerate(zip(files, guesses, strict=True))
              if f.attachment_id is not None and f.number is None and g.number is None}
    wanted = dict(list(wanted.items())[:drawing_text.MAX_READS])
    if not wanted:
        return guesses
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        await _project(conn, project_id)
        rows = await queries.attachments_of(conn, project_id, list(wanted.values()))
    for i, attachment_id in wanted.items():
        row = rows.get(attachment_id)
        text = await drawing_text.text_of(request.app, row) if row is not None else None
        if text:
            guesses[i] = reg.merge_guesses(guesses[i], reg.guess_from_text(text))
    return guesses


async def _check_bulk_attachment(conn: asyncpg.Connection, project_id: uuid.UUID,
                                 item: dict[str, Any], index: int) -> None:
    if item["attachment_id"] is not None and (
            await queries.attachment_project(conn, item["attachment_id"]) != project_id):
        item["problems"].append({"field": "attachment_id",
                                 "message": "no such attachment in the project"})


async def _bulk_create(conn: asyncpg.Connection, org_id: uuid.UUID, user_id: uuid.UUID,
                       project_id: uuid.UUID, items: list[dict[str, Any]]) -> None:
    made: dict[str, asyncpg.Record] = {}
    for item in items:
        number = item["number"]
        drawing = made.get(number)
        if drawing is None and item["drawing_id"] is None:
            values = {"number": number, "title": item["title"], "discipline": item["discipline"]}
            if item["drawing_set"]:
                values["drawing_set"] = item["drawing_set"]
            drawing = await queries.create_drawing(conn, org_id=org_id, project_id=project_id,
                                                   created_by=user_id, values=values)
        elif drawing is None:
            drawing = await queries.lock_drawing(conn, item["drawing_id"])
            if drawing is None:
                raise NotFound("No such drawing")
        made[number] = drawing
        try:
            reg.check_next(await queries.revision_codes(conn, drawing["id"]), item["revision"])
        except RuleError as exc:
            raise Invalid(f"{item['file_name']}: {exc.detail}", code="revision_out_of_order",
                          errors=[{"field": f"files[{items.index(item)}].revision",
                                   "message": exc.errors[0]["message"]}]) from None
        row = await queries.create_revision(
            conn, drawing, issued_by=user_id,
            values={"revision": item["revision"], "status": item["status"],
                    "attachment_id": item["attachment_id"], "file_name": item["file_name"]})
        item["drawing_id"] = drawing["id"]
        item["revision_id"] = row["id"]

