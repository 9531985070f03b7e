"""GET /search: one ranked, highlighted list over everything the caller may open.

Caching: a page is cached for CACHE_TTL_SEARCH seconds under a key made of the org's search
generation, the user id, a digest of the user's visible scope (admin, client, visible
project ids — read from PostgreSQL on every request, so a permission change is seen at
once) and a digest of the query. Any change to a searchable row bumps the org's search
generation (`server/cache/keys.plan`: the writer's own request right after its commit, the
change leader for every change): every cached page of that org is then unreachable and
expires by itself.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

import pydantic
from aiohttp import web

from db.cursor_codec import decode_search_cursor, encode_search_cursor
from db.pool import transaction
from db.queries.search import MARK_END, MARK_START, TYPES, Scope, SearchQuery, search
from db.queries.search import visible_scope as read_scope
from server.auth.identity import actor
from server.cache.keys import search_generation_key
from server.cache.store import Cache
from server.errors import Invalid, NotFound, Unauthorized
from server.exports.route import exportable
from server.fields import ShortText
from server.keys import CACHE, POOL, SETTINGS
from server.openapi import doc
from server.rest import json_response
from server.text import ONE_LINE
from server.validation import ApiModel, read_query

routes = web.RouteTableDef()

MAX_Q = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SearchParams(ApiModel):
    q: Annotated[str, pydantic.Field(min_length=1, max_length=MAX_Q), ONE_LINE]
    types: ShortText | None = None
    project_id: uuid.UUID | None = None
    limit: int = pydantic.Field(20, ge=1, le=50)
    cursor: Annotated[str, pydantic.Field(max_length=1000), ONE_LINE] | None = None

    @pydantic.field_validator("q", mode="before")
    @classmethod
    def _plain_text(cls, value: Any) -> Any:
        """Control characters (NUL among them) become spaces; text must be valid UTF-8."""
        if isinstance(value, str):
            value = _CONTROL.sub(" ", value)
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("must be valid UTF-8 text") from None
        return value


class SearchHit(pydantic.BaseModel):
    type: Literal[TYPES]  # type: ignore[valid-type]
    id: uuid.UUID
    title: str
    snippet: str  # HTML-escaped, the matches wrapped in <mark>
    project_id: uuid.UUID | None
    score: float


def parse_types(raw: str | None) -> tuple[str, ...]:
    """`task,shop_drawing` -> ('task', 'shop_drawing'); unknown names are a 422."""
    if raw is None:
        return TYPES
    names = [n.strip() for n in raw.split(",") if n.strip()]
    unknown = sorted({n for n in names if n not in TYPES})
    if unknown:
        raise Invalid("Unknown search type", errors=[{
            "field": "types", "message": f"unknown: {', '.join(unknown)[:200]}; "
                                         f"one of {', '.join(TYPES)}"}])
    return tuple(dict.fromkeys(names)) or TYPES


def fingerprint(q: str, types: tuple[str, ...], project_id: uuid.UUID | None) -> str:
    """Ties a cursor to the search it came from."""
    raw = json.dumps([q, sorted(types), str(project_id or "")])
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def search_position(cursor: str, print_: str) -> tuple[Decimal, str, uuid.UUID]:
    """(score, type, id) after which a page of this search goes on; 422 for a cursor that
    is not one of this search's."""
    try:
        score, type_, record_id, given = decode_search_cursor(cursor)
        valid = given == print_ and type_ in TYPES
    except ValueError:
        valid = False
    if not valid:
        raise Invalid("The cursor is not valid for this search",
                      errors=[{"field": "cursor", "message": "invalid cursor"}])
    return score, type_, record_id


def render_snippet(snippet: str) -> str:
    """HTML-escaped text with the matches wrapped in <mark>."""
    escaped = html.escape(snippet, quote=False)
    return escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")


# --- cache ----------------------------------------------------------------------------------

def scope_digest(scope: Scope) -> str:
    if scope.is_admin:
        return "admin"
    raw = f"{scope.client_id}|" + ",".join(sorted(str(p) for p in scope.projects))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


async def _cache_key(cache: Cache, scope: Scope, params: SearchParams, print_: str) -> str:
    generation = await cache.get(search_generation_key(scope.org_id)) or 0
    page = hashlib.sha256(f"{print_}|{params.limit}|{params.cursor or ''}".encode())
    return (f"search:{scope.org_id}:{generation}:{scope.user_id}:{scope_digest(scope)}:"
            f"{page.hexdigest()[:24]}")


# --- the route ------------------------------------------------------------------------------

def _page(hits: list[dict[str, Any]], more: bool, print_: str) -> dict[str, Any]:
    data = [{"type": h["type"], "id": str(h["id"]), "title": h["title"],
             "snippet": render_snippet(h["snippet"] or ""),
             "project_id": str(h["project_id"]) if h["project_id"] else None,
             "score": float(h["score"])} for h in hits]
    next_cursor = None
    if more and hits:
        last = hits[-1]
        next_cursor = encode_search_cursor(last["score"], last["type"], last["id"], print_)
    return {"data": data, "next_cursor": next_cursor}


@routes.get("/api/v1/search")
@exportable("search")
@doc(summary="Search everything I may open (ranked, typo-tolerant, highlighted)",
     query=SearchParams, response=SearchHit, many=True, errors=[404], tags=["search"])
async def search_everything(request: web.Request) -> web.Response:
    params = read_query(request.query, SearchParams)
    types = parse_types(params.types)
    print_ = fingerprint(params.q, types, params.project_id)
    after = search_position(params.cursor, print_) if params.cursor else None
    query = SearchQuery(params.q, types, params.project_id, params.limit, after)
    cache = request.app[CACHE]
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        scope = await read_scope(conn)
        if scope is None:
            raise Unauthorized("The account is not active")
        if params.project_id is not None and params.project_id not in scope.projects:
            raise NotFound("No such project")
        key = await _cache_key(cache, scope, params, print_)
        body = await cache.get(key)
        if body is None:
            hits, more = await search(conn, scope, query)
            body = _page(hits, more, print_)
            await cache.set(key, body, request.app[SETTINGS].cache_ttls["search"])
    return json_response(body)
