"""Comments on project records; `@first.last` and `@email` mentions notify colleagues who
can open the record (and nobody else).

A comment is `internal` (staff only, the default for staff) or `shared` (the project's
client users see it too; what client users write is always shared). Row-level security
hides internal comments from client users on every read; here: a client user named in an
internal comment is not mentioned (no notification), and a shared reply needs a shared
parent, so nothing a client reads points at what they may not."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import asyncpg
import pydantic
from aiohttp import web

from db.audience import INTERNAL, SHARED, comment_visibility
from db.pool import transaction
from db.queries import comments as queries
from db.queries import notifications as notes
from db.queries import rows
from db.schema import ENTITY_TYPES
from rules.mentions import named_from_rows, parse_mentions, snippet, sort_out
from server.auth.identity import actor, identity
from server.auth.permissions import Perm, require
from server.auth.session_copies import confirmed_in_database
from server.errors import Conflict, Forbidden, Invalid, NotFound
from server.exports.route import exportable
from server.fields import Body, OneOf, RecordOut
from server.keys import POOL
from server.openapi import doc
from server.records import check_version, path_id, read_one
from server.rest import PageParams, idempotent, if_match, json_response, keyset, record, sortable
from server.validation import ApiModel, read_body, read_query
from server.writes import writes

routes = web.RouteTableDef()
TABLE = "comments"
EntityType = Annotated[str, OneOf(ENTITY_TYPES)]
SORTABLE = sortable(created_at="timestamptz")
Visibility = Literal["internal", "shared"]


class CommentIn(ApiModel):
    entity_type: EntityType
    entity_id: uuid.UUID
    body: Body
    parent_id: uuid.UUID | None = None
    visibility: Visibility | None = None  # staff: default internal; client users: shared


class CommentPatch(ApiModel):
    body: Body | None = None
    visibility: Visibility | None = None


class CommentQuery(PageParams):
    entity_type: EntityType
    entity_id: uuid.UUID


class CommentOut(RecordOut):
    org_id: uuid.UUID
    project_id: uuid.UUID
    entity_type: str
    entity_id: uuid.UUID
    user_id: uuid.UUID  # the author
    body: str
    parent_id: uuid.UUID | None
    visibility: Visibility
    mentions: list[uuid.UUID]  # the users this comment notified


class NotNotified(pydantic.BaseModel):
    handle: str | None = None  # absent for a user an earlier version already notified
    user_id: uuid.UUID | None = None  # absent when the handle names nobody
    reason: Literal["unknown_user", "inactive", "not_a_member", "author", "already_notified",
                    "internal_comment"]


class MentionReport(pydantic.BaseModel):
    notified: list[uuid.UUID]
    not_notified: list[NotNotified]


class CommentWritten(CommentOut):
    """The answer to a write: the comment and who its mentions notified (or not, and why)."""

    mention_report: MentionReport


async def _owner(conn: asyncpg.Connection, entity_type: str,
                 entity_id: uuid.UUID) -> asyncpg.Record:
    owner = await queries.entity_owner(conn, entity_type, entity_id)
    if owner is None:
        raise NotFound(f"No such {entity_type.replace('_', ' ')}")
    return owner


def _invisible_reply() -> Invalid:
    return Invalid("A shared comment cannot answer an internal one",
                   errors=[{"field": "visibility", "message": "the parent comment is internal"}])


async def _mention(conn: asyncpg.Connection, comment: asyncpg.Record) -> dict[str, Any]:
    """Store the comment's mentions, notify whoever is newly mentioned, and tell the writer
    who was notified and who was not (and why: client users only in shared comments)."""
    found = parse_mentions(comment["body"])
    named = await queries.named_users(conn, comment["project_id"], sorted(found.emails),
                                      sorted(found.names)) if found else []
    outcome = sort_out(named_from_rows(named), comment["user_id"],
                       shared=comment["visibility"] == SHARED)
    added = await queries.sync_mentions(conn, comment, outcome.mentionable)
    if added:
        author = await queries.author_name(conn, comment["user_id"])
        await notes.notify(
            conn, org_id=comment["org_id"], user_ids=added, project_id=comment["project_id"],
            kind="mention", title=f"{author} mentioned you", message=snippet(comment["body"]),
            data={"comment_id": str(comment["id"]), "entity_type": comment["entity_type"],
                  "entity_id": str(comment["entity_id"]), "by": str(comment["user_id"])})
    return outcome.report(added)


async def _answer(conn: asyncpg.Connection, comment_id: uuid.UUID) -> asyncpg.Record:
    row = await queries.get_comment(conn, comment_id)
    assert row is not None
    return row


@routes.get("/api/v1/comments")
@exportable("comments")
@doc(summary="List the comments on a record", query=CommentQuery, response=CommentOut,
     many=True, errors=[404], tags=["comments"])
async def list_comments(request: web.Request) -> web.Response:
    query = read_query(request.query, CommentQuery)
    page = keyset(query, SORTABLE, "created_at")
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        await _owner(conn, query.entity_type, query.entity_id)
        found = await queries.list_comments(
            conn, page, query.model_dump(include={"entity_type", "entity_id"}))
    return json_response(page.page(found))


@routes.post("/api/v1/comments")
@doc(summary="Create a comment (@mentions notify)", body=CommentIn, response=CommentWritten,
     status=201, errors=[403, 404], tags=["comments"])
@idempotent
async def create_comment(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.COMMENT)
    body = await read_body(request, CommentIn)
    visibility = comment_visibility(who.role, body.visibility)
    async with writes(request) as conn:
        owner = await _owner(conn, body.entity_type, body.entity_id)
        if body.parent_id is not None:
            parent = await queries.get_comment(conn, body.parent_id)
            if parent is None or parent["entity_id"] != body.entity_id:
                raise Invalid("The parent comment is not on this record",
                              errors=[{"field": "parent_id", "message": "not on this record"}])
            if visibility == SHARED and parent["visibility"] == INTERNAL:
                raise _invisible_reply()
        row = await rows.insert_row(conn, TABLE, {
            **body.model_dump(exclude_none=True), "visibility": visibility,
            "org_id": owner["org_id"], "project_id": owner["project_id"],
            "user_id": who.user_id})
        report = await _mention(conn, row)
        comment = await _answer(conn, row["id"])
    return json_response({**record(comment), "mention_report": report}, status=201)


@routes.get("/api/v1/comments/{id}")
@doc(summary="One comment", response=CommentOut, tags=["comments"])
async def get_comment(request: web.Request) -> web.Response:
    row = await read_one(request, TABLE, path_id(request), queries.get_comment)
    return json_response(record(row))


async def _own_locked(conn: asyncpg.Connection, request: web.Request) -> asyncpg.Record:
    current = await rows.lock_row(conn, TABLE, path_id(request))
    if current is None:
        raise NotFound("No such comment")
    if current["user_id"] != identity(request).user_id:
        raise Forbidden("Only the author may change a comment", code="not_author")
    check_version(current["version"], if_match(request))
    return current


async def _check_visibility_change(conn: asyncpg.Connection, current: asyncpg.Record,
                                   visibility: str) -> None:
    """Sharing needs a shared parent; making a comment internal needs no shared replies."""
    if visibility == SHARED and current["parent_id"] is not None:
        parent = await queries.get_comment(conn, current["parent_id"])
        if parent is not None and parent["visibility"] == INTERNAL:
            raise _invisible_reply()
    if visibility == INTERNAL and await queries.has_shared_replies(conn, current["id"]):
        raise Conflict("The comment has shared replies; make them internal first",
                       code="shared_replies")


@routes.patch("/api/v1/comments/{id}")
@doc(summary="Change a comment (the author only)", body=CommentPatch, response=CommentWritten,
     errors=[403, 409, 412], tags=["comments"])
@confirmed_in_database
async def update_comment(request: web.Request) -> web.Response:
    path_id(request)
    body = await read_body(request, CommentPatch)
    changes = body.model_dump(exclude_none=True)
    async with writes(request) as conn:
        current = await _own_locked(conn, request)
        if changes.get("visibility", current["visibility"]) != current["visibility"]:
            await _check_visibility_change(conn, current, changes["visibility"])
        row = await rows.update_locked(conn, TABLE, current["id"], changes)
        report = await _mention(conn, row)
        comment = await _answer(conn, row["id"])
    return json_response({**record(comment), "mention_report": report})


@routes.delete("/api/v1/comments/{id}")
@doc(summary="Delete a comment (the author only)", status=204, errors=[403, 412],
     tags=["comments"])
@confirmed_in_database
async def delete_comment(request: web.Request) -> web.Response:
    path_id(request)
    async with writes(request) as conn:
        current = await _own_locked(conn, request)
        await rows.delete_row(conn, TABLE, current["id"])
    return web.Response(status=204)
