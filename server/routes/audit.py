"""/api/v1/audit: the change history; admins see their organisation, others their projects
(with other users' addresses and user agents left out)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import pydantic
from aiohttp import web
from pydantic_core import PydanticCustomError

from db.audience import audit_row_for_client, is_client
from db.cursor_codec import decode_audit_cursor, encode_audit_cursor
from db.cursor_codec import decode_feed_cursor as decode_position
from db.cursor_codec import encode_feed_cursor as encode_position
from db.pool import transaction
from db.queries import audit as queries
from db.queries.events import record_event
from db.tables import AUDITED_TABLES, RESOURCES
from realtime.feed.cursor import ORIGIN
from rules.ocsf import ocsf_line
from server.auth.identity import Identity, actor, identity
from server.auth.permissions import Perm, Role, require
from server.errors import Invalid, NotFound
from server.exports.route import exportable
from server.fields import listed
from server.keys import POOL
from server.openapi import doc
from server.records import path_id
from server.rest import DEFAULT_LIMIT, MAX_LIMIT, json_response
from server.text import ONE_LINE
from server.validation import ApiModel, read_query

routes = web.RouteTableDef()

# Events name resources in the singular (`project_member`), audit rows name tables
# (`project_members`): either names the same history.
TABLE_NAMES = {**{table: table for table in AUDITED_TABLES},
               **{RESOURCES[table]: table for table in AUDITED_TABLES}}
VALID_NAMES = ", ".join(sorted(TABLE_NAMES))


def audited_table(name: str) -> str:
    """The audited table a table or resource name stands for."""
    table = TABLE_NAMES.get(name)
    if table is None:
        raise PydanticCustomError("unknown_table", "one of {names}", {"names": VALID_NAMES})
    return table


AuditedTable = Annotated[str, pydantic.Field(max_length=64),
                         pydantic.AfterValidator(audited_table), listed(sorted(TABLE_NAMES))]


# A date, or a date and a time: pydantic alone would also read a number, such as `to=0.5`,
# as seconds since 1970, which the document does not allow.
INSTANT_PATTERN = r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}.*)?$"
_INSTANT = re.compile(INSTANT_PATTERN)


def _iso_instant(value: Any) -> Any:
    if isinstance(value, str) and not _INSTANT.match(value):
        raise PydanticCustomError("datetime_format", "must be a date or a date and time, "
                                  "like 2026-01-31T09:00:00Z")
    return value


Instant = Annotated[dt.datetime, pydantic.BeforeValidator(_iso_instant), pydantic.WithJsonSchema({
    "type": "string", "pattern": INSTANT_PATTERN,
    "description": "ISO 8601 date-time (without an offset: UTC) or date (its midnight, UTC)"})]


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
    from_: Instant | None = pydantic.Field(None, alias="from")
    to: Instant | None = None

    @pydantic.field_validator("from_", "to")
    @classmethod
    def _in_utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        """In UTC (a time without a zone is taken as UTC); the ends of the calendar with
        an offset have no UTC equivalent and are refused here, not by the driver."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:
            raise ValueError("out of range") from None


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


def audit_position(cursor: str, descending: bool) -> int:
    """The last id of the page before; 422 for a cursor that is not an audit page's (in
    this direction)."""
    try:
        return decode_audit_cursor(cursor, descending)
    except ValueError:
        raise Invalid("The cursor is not valid",
                      errors=[{"field": "cursor", "message": "invalid cursor"}]) from None


# Where and with what a person works is personal data: only admins see it for others.
PERSONAL = ("ip", "user_agent")


def shown(row: Mapping[str, Any], viewer: Identity) -> dict[str, Any]:
    """An audit row as `viewer` may see it: another user's address and agent only for
    admins (a non-admin sees them on their own rows)."""
    data = dict(row)
    if viewer.role != Role.ADMIN and data.get("user_id") != viewer.user_id:
        data.update(dict.fromkeys(PERSONAL))
    return data


async def _page(request: web.Request, params: HistoryQuery, filters: dict[str, Any],
                default_sort: str) -> dict[str, Any]:
    descending = (params.sort or default_sort) == "-id"
    after = audit_position(params.cursor, descending) if params.cursor else None
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        rows = await queries.list_audit(conn, filters, after_id=after, descending=descending,
                                        limit=params.limit)
    more = len(rows) > params.limit
    rows = rows[: params.limit]
    return {"data": _shown(request, rows),
            "next_cursor": encode_audit_cursor(descending, rows[-1]["id"]) if more else None}


def _shown(request: web.Request, rows: list[Any]) -> list[dict[str, Any]]:
    """The rows as the caller may read them. Client users hold no audit permission today;
    should they get one, they still see no internal cost and no internal comment."""
    viewer = identity(request)
    data = [shown(r, viewer) for r in rows]
    if not is_client(viewer.role):
        return data
    return [r for r in (audit_row_for_client(r["table_name"], r) for r in data)
            if r is not None]


@routes.get("/api/v1/audit")
@exportable("audit_logs")
@doc(summary="Audit trail (newest first): admins org-wide, others their projects",
     query=AuditQuery, response=AuditOut, many=True, errors=[403])
async def list_audit(request: web.Request) -> web.Response:
    require(identity(request).role, Perm.VIEW_AUDIT)
    params = read_query(request.query, AuditQuery)
    filters = params.model_dump(include={"table", "record_id", "project_id", "action",
                                         "user_id", "to"})
    filters["from"] = params.from_
    return json_response(await _page(request, params, filters, "-id"))


EXPORT_MEDIA = "application/x-ndjson"
EXPORT_LIMIT, EXPORT_MAX = 1000, 10000
EXPORT_CHUNK = 500  # rows fetched and written at a time


class ExportQuery(ApiModel):
    after: str | None = pydantic.Field(
        None, max_length=100, pattern=r"^[A-Za-z0-9_-]+$",
        description="`unmapped.cursor` of the last event received; absent: from the start")
    limit: int = pydantic.Field(EXPORT_LIMIT, ge=1, le=EXPORT_MAX)


@routes.get("/api/v1/audit/export")
@doc(summary="The organisation's audit trail as OCSF JSON lines, resumable by cursor",
     description="Org admins. Events in a stable order, each once: resume with `after` set "
     "to the `unmapped.cursor` of the last line received (an empty answer: nothing new "
     "yet). Reading the export is itself audited (`audit_exported`).",
     query=ExportQuery, media=[EXPORT_MEDIA], errors=[403], tags=["audit"])
async def export_audit(request: web.Request) -> web.StreamResponse:
    who = identity(request)
    require(who.role, Perm.VIEW_ORG_AUDIT)
    params = read_query(request.query, ExportQuery)
    try:
        after = decode_position(params.after) if params.after else ORIGIN
    except ValueError:
        raise Invalid("The cursor is not valid",
                      errors=[{"field": "after", "message": "invalid cursor"}]) from None
    pool, as_actor = request.app[POOL], await actor(request)
    async with transaction(pool, as_actor) as conn:
        await record_event(conn, "audit_exported", {"after": params.after,
                                                    "limit": params.limit},
                           org_id=who.org_id, user_id=who.user_id)
    response = web.StreamResponse(headers={"Content-Type": f"{EXPORT_MEDIA}; charset=utf-8",
                                           "Cache-Control": "no-store"})
    await response.prepare(request)
    async with transaction(pool, as_actor, readonly=True) as conn:
        lines: list[bytes] = []
        async for row in queries.export_cursor(conn, after, None, params.limit, EXPORT_CHUNK):
            lines.append(ocsf_line(row, encode_position((row["txid"], row["id"]))))
            if len(lines) >= EXPORT_CHUNK:
                await response.write(b"".join(lines))
                lines = []
        if lines:
            await response.write(b"".join(lines))
    await response.write_eof()
    return response


@routes.get("/api/v1/audit/{table}/{record_id}")
@exportable("audit_logs")
@doc(summary="History of one record (oldest first)", query=HistoryQuery, response=AuditOut,
     many=True, errors=[403])
async def record_history(request: web.Request) -> web.Response:
    require(identity(request).role, Perm.VIEW_AUDIT)
    table = TABLE_NAMES.get(request.match_info["table"])
    record_id = path_id(request, "record_id")
    if table is None:
        raise NotFound("No such table", errors=[{"field": "table",
                                                 "message": f"one of {VALID_NAMES}"}])
    params = read_query(request.query, HistoryQuery)
    page = await _page(request, params, {"table": table, "record_id": record_id}, "id")
    if not page["data"] and params.cursor is None:
        raise NotFound("No history for this record")
    return json_response(page)
