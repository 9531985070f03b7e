"""The caller's own notifications: list, mark one read, mark all read."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pydantic
from aiohttp import web

from db.pool import transaction
from db.queries import notifications as queries
from server.auth.identity import actor, identity
from server.errors import NotFound
from server.exports.route import exportable
from server.fields import Keyword, RecordOut
from server.keys import POOL
from server.openapi import doc
from server.records import path_id
from server.rest import PageParams, json_response, keyset, record, sortable
from server.validation import read_query
from server.writes import writes

routes = web.RouteTableDef()
SORTABLE = sortable(created_at="timestamptz")


class NotificationQuery(PageParams):
    unread: bool | None = None
    type: Keyword | None = None


class NotificationOut(RecordOut):
    org_id: uuid.UUID
    user_id: uuid.UUID
    project_id: uuid.UUID | None
    type: str
    title: str
    message: str
    data: dict[str, Any]
    read_at: dt.datetime | None


class ReadAllOut(pydantic.BaseModel):
    updated: int  # how many were unread


@routes.get("/api/v1/notifications")
@exportable("notifications")
@doc(summary="List my notifications", query=NotificationQuery, response=NotificationOut,
     many=True, tags=["notifications"])
async def list_notifications(request: web.Request) -> web.Response:
    query = read_query(request.query, NotificationQuery)
    page = keyset(query, SORTABLE, "-created_at")
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        found = await queries.list_notifications(conn, page, user_id=identity(request).user_id,
                                                 kind=query.type, unread=query.unread)
    return json_response(page.page(found))


@routes.post("/api/v1/notifications/read-all")
@doc(summary="Mark all my notifications read", response=ReadAllOut, tags=["notifications"])
async def read_all(request: web.Request) -> web.Response:
    async with writes(request) as conn:
        updated = await queries.mark_all_read(conn, identity(request).user_id)
    return json_response({"updated": updated})


@routes.post("/api/v1/notifications/{id}/read")
@doc(summary="Mark one notification read", response=NotificationOut, tags=["notifications"])
async def read_one(request: web.Request) -> web.Response:
    notification_id = path_id(request)
    async with writes(request) as conn:
        row = await queries.mark_read(conn, notification_id, identity(request).user_id)
    if row is None:
        raise NotFound("No such notification")
    return json_response(record(row))
