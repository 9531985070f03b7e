"""REST conventions used by every resource: JSON answers with ETags, If-Match, keyset
pagination with opaque cursors, sorting, and Idempotency-Key on POST."""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import hashlib
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import pydantic
from aiohttp import web

from db.cursor_codec import decode_page_cursor, encode_page_cursor
from db.pool import dumps, system_transaction
from db.queries import idempotency
from server.auth.identity import identity
from server.errors import BadRequest, Conflict, Invalid
from server.fields import Keyword
from server.keys import POOL
from server.validation import ApiModel

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
# The request headers' rules, as the OpenAPI document states them (one pattern each).
IF_MATCH_PATTERN = r'^(\*|(W/)?"?([0-9]{1,9})"?)$'
# 1-255 printable characters: the pattern leaves out the Latin-1 ones that are not (what a
# header can carry as it is); `str.isprintable` judges the rest.
IDEMPOTENCY_KEY_PATTERN = r"^[^\x00-\x1f\x7f-\xa0\xad]{1,255}$"
IDEMPOTENT_ATTR = "__idempotent__"  # marks a handler wrapped by `idempotent`
_IF_MATCH = re.compile(IF_MATCH_PATTERN)
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


# --- answers -------------------------------------------------------------------------------

def etag(version: int) -> str:
    return f'"{version}"'


# Set while a list handler is replayed for its data (server/exports): `json_response` then
# hands the data over as it is, under PAGE_DATA, instead of writing it as JSON.
REPLAYING: contextvars.ContextVar[bool] = contextvars.ContextVar("replaying", default=False)
PAGE_DATA = web.ResponseKey("page_data", object)


def json_response(data: Any, *, status: int = 200, version: int | None = None,
                  headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON answer; `version` sets the ETag (single records)."""
    if REPLAYING.get():
        replayed = web.Response(status=status)
        replayed[PAGE_DATA] = data
        return replayed
    response = web.Response(status=status, text=dumps(data), content_type="application/json",
                            headers=headers)
    if version is None and isinstance(data, dict) and isinstance(data.get("version"), int):
        version = data["version"]
    if version is not None:
        response.headers["ETag"] = etag(version)
    return response


def record(row: asyncpg.Record | Mapping[str, Any], *, drop: Sequence[str] = ()) -> dict[str, Any]:
    """A row as an API object: bookkeeping columns that clients never see are dropped."""
    hidden = {"search_vector", "password_hash", "_sort", *drop}
    return {k: v for k, v in dict(row).items() if k not in hidden}


# --- optimistic concurrency -----------------------------------------------------------------

def if_match(request: web.Request) -> int | None:
    """The version named by If-Match (`"3"`, `W/"3"` or `3`), or None when absent or `*`."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    found = _IF_MATCH.fullmatch(raw.strip())
    if found is None:
        raise BadRequest("If-Match must name a version, like \"3\"", code="invalid_if_match")
    return int(found.group(3))


# --- pagination -----------------------------------------------------------------------------

@dataclass(frozen=True)
class SortKey:
    """A sortable field: its SQL expression (never NULL) and the type to cast cursors to.

    When `sql` is not a plain column, the list query must also select it `AS _sort`.
    """

    sql: str
    cast: str


def sortable(**casts: str) -> dict[str, SortKey]:
    """Sortable plain columns and the types their cursors cast to:
    `sortable(name="text", created_at="timestamptz")`."""
    return {column: SortKey(column, cast) for column, cast in casts.items()}


class PageParams(ApiModel):
    limit: int = pydantic.Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = pydantic.Field(None, max_length=2000, pattern=r"^[A-Za-z0-9_-]+$")
    sort: Keyword | None = None


@dataclass(frozen=True)
class Keyset:
    """ORDER BY and the `after cursor` condition of one list query."""

    field: str
    key: SortKey
    descending: bool
    after: tuple[str, str] | None
    limit: int

    @property
    def order_sql(self) -> str:
        direction = "DESC" if self.descending else "ASC"
        return f"{self.key.sql} {direction}, id {direction}"

    def where(self, first_param: int) -> tuple[str, list[Any]]:
        """(`sql`, args) limiting rows to after the cursor; `TRUE` on the first page."""
        if self.after is None:
            return "TRUE", []
        op = "<" if self.descending else ">"
        a, b = first_param, first_param + 1
        # Cursor values travel as text and are cast in SQL (asyncpg types `$n::date` strictly).
        return (f"({self.key.sql}, id) {op} (${a}::text::{self.key.cast}, ${b}::text::uuid)",
                list(self.after))

    def page(self, rows: Sequence[Mapping[str, Any]],
             shape: Callable[[Mapping[str, Any]], dict[str, Any]] = record) -> dict[str, Any]:
        """`{"data", "next_cursor"}` from up to limit+1 fetched rows."""
        more = len(rows) > self.limit
        rows = rows[: self.limit]
        next_cursor = None
        if more and rows:
            last = rows[-1]
            value = last["_sort"] if "_sort" in last else last[self.field]
            next_cursor = encode_page_cursor(self.field, self.descending, value, last["id"])
        return {"data": [shape(r) for r in rows], "next_cursor": next_cursor}


def keyset(params: PageParams, sortable: Mapping[str, SortKey], default: str) -> Keyset:
    """Resolve `sort`, `cursor` and `limit` against the fields a resource allows."""
    sort = params.sort or default
    descending = sort.startswith("-")
    field = sort.lstrip("-+")
    if field not in sortable:
        raise Invalid("Unknown sort field", errors=[{
            "field": "sort", "message": f"one of {', '.join(sorted(sortable))}"}])
    after = None
    if params.cursor:
        try:
            c_field, c_desc, value, record_id = decode_page_cursor(params.cursor)
        except ValueError:
            raise Invalid("The cursor is not valid", errors=[
                {"field": "cursor", "message": "invalid cursor"}]) from None
        if c_field != field or c_desc != descending:
            raise Invalid("The cursor belongs to another sort order",
                          errors=[{"field": "cursor", "message": "does not match sort"}])
        after = (value, record_id)
    return Keyset(field, sortable[field], descending, after, params.limit)


# --- idempotency ----------------------------------------------------------------------------

IDEMPOTENCY_TTL = dt.timedelta(hours=24)
IN_FLIGHT_TIMEOUT = dt.timedelta(seconds=60)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def idempotent(handler: Handler) -> Handler:
    """Idempotency-Key on POST: a retry with the same key and body gets the first answer;
    another body is 422; a retry while the first is still running is 409."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return await handler(request)
        if not _IDEMPOTENCY_KEY.fullmatch(key) or not key.isprintable():
            raise BadRequest("Idempotency-Key must be 1-255 printable characters",
                             code="invalid_idempotency_key")
        who = identity(request)
        body = await request.read()
        digest = hashlib.sha256(request.method.encode() + b" " + request.path.encode()
                                + b"\n" + body).hexdigest()
        stored = await _claim(request, who.user_id, key, digest)
        if stored is not None:
            return stored
        try:
            response = await handler(request)
        except BaseException:
            await _release(request, who.user_id, key)
            raise
        if isinstance(response, web.Response) and 200 <= response.status < 300:
            await _store(request, who.user_id, key, response)
        else:
            await _release(request, who.user_id, key)
        return response

    setattr(wrapper, IDEMPOTENT_ATTR, True)  # the OpenAPI document lists the header
    return wrapper


async def _claim(request: web.Request, user_id: uuid.UUID, key: str,
                 digest: str) -> web.Response | None:
    """Claim the key (None: go ahead) or answer from what is stored."""
    async with system_transaction(request.app[POOL]) as conn:
        if await idempotency.claim(conn, user_id, key, request.method, request.path, digest,
                                   IDEMPOTENCY_TTL):
            return None
        row = await idempotency.held(conn, user_id, key)
        if row is None:  # expired and removed between the two statements
            return None
        if row["request_hash"] != digest:
            raise Invalid("This Idempotency-Key was used with another request",
                          code="idempotency_key_reused",
                          errors=[{"field": "Idempotency-Key",
                                   "message": "used with another body"}])
        if row["status"] is None:
            if dt.datetime.now(dt.UTC) - row["created_at"] < IN_FLIGHT_TIMEOUT:
                raise Conflict("A request with this Idempotency-Key is still running",
                               code="idempotency_in_flight")
            await idempotency.reclaim(conn, user_id, key)
            return None
    headers = dict(row["headers"] or {})
    headers["Idempotent-Replayed"] = "true"
    return web.Response(status=row["status"], text=dumps(row["response"]),
                        content_type="application/json", headers=headers)


async def _store(request: web.Request, user_id: uuid.UUID, key: str,
                 response: web.Response) -> None:
    body = json.loads(response.text) if response.text else None
    headers = {k: v for k, v in response.headers.items() if k in ("ETag", "Location")}
    async with system_transaction(request.app[POOL]) as conn:
        await idempotency.store(conn, user_id, key, response.status, body, headers)


async def _release(request: web.Request, user_id: uuid.UUID, key: str) -> None:
    async with system_transaction(request.app[POOL]) as conn:
        await idempotency.release(conn, user_id, key)
