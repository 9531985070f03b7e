"""Cache-aside reads that never outrun authorisation.

A cached record is served only when the caller passes the same checks row-level security
would make: same organisation, and (for project-owned records) a project in the caller's
visible set — itself cached per user under the org generation, so a membership change
retires every visible set of that organisation at once. Anything else goes to PostgreSQL.

A cache hit runs no query, so no row-level security: every hit compares the caller's
organisation with the one in the entry (records, visible sets) or in the key (project
views). "All projects" (an org admin's visible set) means all projects of *that* org.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import asyncpg
from aiohttp import web

from db.pool import transaction
from db.queries.projects import visible_ids
from db.tables import CACHED_TABLES, PROJECT_TABLES
from server.audience import hides_costs, shown
from server.auth.identity import READ_AHEAD, Identity, actor, identity
from server.cache.keys import (
    READS_RECORD,
    list_key,
    org_generation_key,
    project_generation_key,
    record_key,
    visibility_key,
)
from server.errors import NotFound
from server.keys import CACHE, POOL, SETTINGS
from server.rest import etag, json_response, record

ALL_PROJECTS = "*"

Loader = Callable[[], Awaitable[dict[str, Any]]]


async def _read(request: web.Request, keys: list[str]) -> list[bytes | None] | None:
    """Raw cache values of `keys`: read ahead with the session if possible, else one MGET."""
    ahead = request.get(READ_AHEAD)
    if ahead is not None and all(k in ahead for k in keys):
        return [ahead[k] for k in keys]
    raws: list[bytes | None] | None = await request.app[CACHE].prefetch(keys)
    return raws


@functools.lru_cache(maxsize=4096)
def _stored_visibility(raw: bytes) -> tuple[str | None, int | None, frozenset[str] | None]:
    """(org, org generation, project ids or None for all) of a cached visible set, by its
    text."""
    stored = json.loads(raw)
    if not isinstance(stored, dict) or not isinstance(stored.get("g"), int):
        return None, None, frozenset()
    projects = stored.get("p")
    org = stored.get("o")
    return (org if isinstance(org, str) else None, stored["g"],
            None if projects == ALL_PROJECTS else frozenset(projects or ()))


async def visible_projects(request: web.Request) -> frozenset[str] | None:
    """The ids of the projects the caller can see; None means every project of the org."""
    who = identity(request)
    cache = request.app[CACHE]
    key = visibility_key(who.user_id)
    raws = await _read(request, [org_generation_key(who.org_id), key])
    generation = -1 if raws is None else int(raws[0] or 0)  # -1: unknown, do not cache
    if raws is not None and raws[1] is not None:
        # Only a set computed under the current org generation is good: any change to
        # projects, members or users since then bumped the generation.
        org, computed_under, projects = _stored_visibility(raws[1])
        if computed_under == generation and org == _text(who.org_id):
            cache.tally(True, who.org_id)
            return projects
    cache.tally(False, who.org_id)
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        ids = await visible_ids(conn)
    listed = ALL_PROJECTS if ids is None else [str(i) for i in ids]
    if generation >= 0:  # the generation was read before the query: exact
        await cache.set(key, {"o": str(who.org_id), "g": generation, "p": listed},
                        _ttl(request, "visibility"))
    return None if ids is None else frozenset(listed)


def _ttl(request: web.Request, kind: str) -> int:
    """CACHE_TTL_<KIND>: how long an entry of this kind may live."""
    return request.app[SETTINGS].cache_ttls[kind]


@functools.lru_cache(maxsize=8192)
def _text(value: Any) -> str:
    return str(value)


def _project_of(table: str, row: dict[str, Any]) -> str | None:
    if table == "projects":
        return str(row["id"])
    value = row.get("project_id")
    return None if value is None else str(value)


async def may_read(request: web.Request, table: str, row: dict[str, Any]) -> bool:
    """Would RLS let the caller read this cached row? For every cached table
    (db/tables.py) the same answer as the policies, for every kind of caller
    (tests/db/test_read_rule.py holds the two together); for any other table no: the
    database decides."""
    who: Identity = identity(request)
    if table not in CACHED_TABLES or str(row.get("org_id")) != _text(who.org_id):
        return False
    if table in PROJECT_TABLES:
        project = _project_of(table, row)
        if project is None:
            return False
        visible = await visible_projects(request)
        return visible is None or project in visible
    if table == "clients":  # staff read every client of the org; a client user its own
        return who.client_id is None or str(row["id"]) == _text(who.client_id)
    return False


@functools.lru_cache(maxsize=1024)
def _head(raw: bytes) -> dict[str, Any]:
    """What the access check and the ETag need of a cached record, by its exact text."""
    row = json.loads(raw)
    return {k: row.get(k) for k in ("id", "org_id", "project_id", "version")}


async def _cached_row(request: web.Request, table: str,
                      record_id: uuid.UUID) -> tuple[dict[str, Any], bytes] | None:
    """(id, org, project, version) of the cached record and its JSON text, if cached and
    the caller may read it."""
    raws = await _read(request, [record_key(table, record_id)])
    raw = raws[0] if raws else None
    request.app[CACHE].tally(raw is not None, identity(request).org_id)
    if raw is None:
        return None
    head = _head(raw)
    return (head, raw) if await may_read(request, table, head) else None


Fetch = Callable[[asyncpg.Connection, uuid.UUID], Awaitable[asyncpg.Record | None]]


def _loader(request: web.Request, record_id: uuid.UUID, fetch: Fetch, missing: str) -> Loader:
    async def load() -> dict[str, Any]:
        async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
            row = await fetch(conn, record_id)
        if row is None:
            raise NotFound(missing)
        return record(row)

    return load


async def record_response(request: web.Request, table: str, record_id: uuid.UUID,
                          fetch: Fetch, missing: str) -> web.Response:
    """GET of one record: cache-aside around `fetch` run through RLS as the caller; a cache
    hit is answered with the stored JSON text.

    The cache holds the whole record whoever filled it: a client user's answer is cut
    down to what they may see on the way out (never the stored text as is)."""
    found = await _cached_row(request, table, record_id)
    if found is None:
        fresh = await _loader(request, record_id, fetch, missing)()
        await request.app[CACHE].fill(record_key(table, record_id), fresh, _ttl(request, "record"))
        return json_response(shown(request, table, fresh))
    head, raw = found
    if hides_costs(request, table):
        return json_response(shown(request, table, json.loads(raw)))
    version = head["version"]
    return web.Response(body=raw, content_type="application/json", charset="utf-8",
                        headers={"ETag": etag(version)} if isinstance(version, int) else None)


Handler = TypeVar("Handler", bound=Callable[..., Any])


def reads_record(table: str) -> Callable[[Handler], Handler]:
    """Mark a GET handler whose `{id}` names a `table` record it reads with
    `record_response`: the auth middleware then reads the record along with the session.
    Only a cached table (db/tables.py), whose read rule is tested against RLS."""
    if table not in CACHED_TABLES:
        raise ValueError(f"{table} is not a cached table (db/tables.py CACHED_TABLES)")

    def mark(handler: Handler) -> Handler:
        setattr(handler, READS_RECORD, table)
        return handler

    return mark


async def project_view(request: web.Request, project_id: uuid.UUID, name: str,
                       variant: Mapping[str, Any], load: Loader) -> dict[str, Any]:
    """A derived view of one project (its summary), keyed by the caller's organisation and
    the project's generation, and served only to callers who can see the project. The
    organisation in the key is what keeps an admin ("every project") of one organisation off
    another organisation's entries."""
    cache = request.app[CACHE]
    org_id = identity(request).org_id
    (generation,) = await cache.generations([project_generation_key(project_id)])
    visible = await visible_projects(request)
    allowed = visible is None or str(project_id) in visible
    key = list_key(name, org_id, project_id, generation, variant)
    if generation >= 0 and allowed:
        cached = await cache.get(key)
        if cached is not None:
            return dict(cached)
    fresh = await load()  # RLS decides (404) when the visible set says no
    if generation >= 0:
        await cache.fill(key, fresh, _ttl(request, "view"))
    return fresh
