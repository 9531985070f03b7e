"""/api/v1/audit: the change history; admins see their organisation, others their projects."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid
from typing import Annotated, Any, Literal

import pydantic
from aiohttp import web

from db.pool import transaction
from db.queries import audit as queries
from db.schema import AUDITED_TABLES
from server.auth.identity import actor, identity
from server.auth.permissions import Perm, require
from server.errors import Invalid, NotFound
from server.fields import path_uuid
from server.keys import POOL
from server.openapi import doc
from server.rest import DEFAULT_LIMIT, MAX_LIMIT, json_response
from server.text import ONE_LINE
from server.validation import ApiModel, read_query

routes = web.RouteTableDef()

AuditedTable = Literal[AUDITED_TABLES]  # type: ignore[valid-type]


class HistoryQuery(ApiModel):
    limit: int = pydantic.Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = pydantic.Field(None, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")
    sort: Literal["id", "-id"] | None = None


class AuditQuery(HistoryQuery):
    table: AuditedTable | None = None
    record_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    action: Annotated[str, pydantic.Field(min_length=1, max_length=64), ONE_LINE] | None = None
    user_id: uuid.UUID | None = None
    from_: dt.datetime | None = pydantic.Field(None, alias="from")
    to: dt.datetime | None = None


class AuditOut(pydantic.BaseModel):
    id: int
    org_id: uuid.UUID | None
    project_id: uuid.UUID | None
    table_name: str | None
    record_id: uuid.UUID | None
    action: str
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None
    changed_fields: list[str] | None
    user_id: uuid.UUID | None
    request_id: str | None
    origin_sid: str | None
    ip: str | None
    user_agent: str | None
    details: dict[str, Any] | None
    at: dt.datetime


def encode_cursor(descending: bool, last_id: int) -> str:
    raw = json.dumps(["audit", descending, last_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, descending: bool) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        kind, desc, last_id = json.loads(base64.urlsafe_b64decode(padded))
        if kind == "audit" and desc == descending and isinstance(last_id, int):
            return last_id
    except (ValueError, TypeError, binascii.Error):
        pass
    raise Invalid("The cursor is not valid",
                  errors=[{"field": "cursor", "message": "invalid cursor"}])


async def _page(request: web.Request, params: HistoryQuery, filters: dict[str, Any],
                default_sort: str) -> dict[str, Any]:
    descending = (params.sort or default_sort) == "-id"
    after = decode_cursor(params.cursor, descending) if params.cursor else None
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        rows = await queries.list_audit(conn, filters, after_id=after, descending=descending,
                                        limit=params.limit)
    more = len(rows) > params.limit
    rows = rows[: params.limit]
    return {"data": [dict(r) for r in rows],
            "next_cursor": encode_cursor(descending, rows[-1]["id"]) if more else None}


@routes.get("/api/v1/audit")
@doc(summary="Audit trail (newest first): admins org-wide, others their projects",
     query=AuditQuery, response=AuditOut, many=True)
async def list_audit(request: web.Request) -> web.Response:
    require(identity(request).role, Perm.VIEW_AUDIT)
    params = read_query(request.query, AuditQuery)
    filters = params.model_dump(include={"table", "record_id", "project_id", "action",
                                         "user_id", "to"})
    filters["from"] = params.from_
    return json_response(await _page(request, params, filters, "-id"))


@routes.get("/api/v1/audit/{table}/{record_id}")
@doc(summary="History of one record (oldest first)", query=HistoryQuery, response=AuditOut,
     many=True)
async def record_history(request: web.Request) -> web.Response:
    require(identity(request).role, Perm.VIEW_AUDIT)
    table = request.match_info["table"]
    record_id = path_uuid(request, "record_id")
    if table not in AUDITED_TABLES:
        raise NotFound("No such table")
    params = read_query(request.query, HistoryQuery)
    page = await _page(request, params, {"table": table, "record_id": record_id}, "id")
    if not page["data"] and params.cursor is None:
        raise NotFound("No history for this record")
    return json_response(page)
