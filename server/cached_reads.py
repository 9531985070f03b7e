"""Cache-aside reads that never outrun authorisation.

A cached record is served only when the caller passes the same checks row-level security
would make: same organisation, and (for project-owned records) a project in the caller's
visible set — itself cached per user under the org generation, so a membership change
retires every visible set of that organisation at once. Anything else goes to PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import asyncpg
from aiohttp import web

from db.pool import transaction
from server.auth.identity import PREFETCHED, Identity, actor, identity
from server.cache_keys import (
    TTL,
    list_key,
    org_generation_key,
    project_generation_key,
    record_key,
    visibility_key,
)
from server.errors import NotFound
from server.keys import CACHE, POOL
from server.rest import record

ALL_PROJECTS = "*"

Loader = Callable[[], Awaitable[dict[str, Any]]]


async def visible_projects(request: web.Request,
                           known: tuple[Any, Any] | None = None) -> set[str] | None:
    """The ids of the projects the caller can see; None means every project of the org.

    The set is cached per user together with the org generation it was computed under, and
    used only while that generation is current (`known`: the generation and the cached
    value, when the caller already fetched them in its own round trip).
    """
    who = identity(request)
    cache = request.app[CACHE]
    if known is None:
        generation_raw, cached = await cache.get_many(
            [org_generation_key(who.org_id), visibility_key(who.user_id)], track=False)
    else:
        generation_raw, cached = known
    generation = int(generation_raw or 0)
    if isinstance(cached, dict) and cached.get("gen") == generation:
        ids = cached["ids"]
        return None if ids == ALL_PROJECTS else set(ids)
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        admin = await conn.fetchval("SELECT app_is_org_admin()")
        found = [] if admin else await conn.fetchval("SELECT app_visible_project_ids()")
    ids = ALL_PROJECTS if admin else [str(i) for i in found]
    await cache.set(visibility_key(who.user_id), {"gen": generation, "ids": ids},
                    TTL["visibility"])
    return None if ids == ALL_PROJECTS else set(ids)


def _project_of(table: str, row: dict[str, Any]) -> str | None:
    if table == "projects":
        return str(row["id"])
    value = row.get("project_id")
    return None if value is None else str(value)


async def may_read(request: web.Request, table: str, row: dict[str, Any],
                   known: tuple[Any, Any] | None = None) -> bool:
    """Would RLS let the caller read this (cached) row? Conservative where unsure."""
    who: Identity = identity(request)
    if str(row.get("org_id")) != str(who.org_id):
        return False
    if table == "clients" and who.client_id is not None:
        return str(row["id"]) == str(who.client_id)
    project = _project_of(table, row)
    if project is None:
        return table in ("clients", "users")
    visible = await visible_projects(request, known)
    return visible is None or project in visible


async def cached_record(request: web.Request, table: str, record_id: uuid.UUID,
                        load: Loader) -> dict[str, Any]:
    """The record from the cache (after the access check) or from `load` (through RLS)."""
    cache = request.app[CACHE]
    who = identity(request)
    key = record_key(table, record_id)
    # One round trip for the record and what its access check needs (already made by the
    # auth middleware when the route is marked with `cached_resource`).
    keys = [key, org_generation_key(who.org_id), visibility_key(who.user_id)]
    prefetched = request.get(PREFETCHED) or {}
    if all(k in prefetched for k in keys):
        row, generation, visible = (prefetched[k] for k in keys)
    else:
        row, generation, visible = await cache.get_many(keys, track=False)
    if row is not None and await may_read(request, table, row, (generation, visible)):
        cache.count(hit=True)
        return dict(row)
    cache.count(hit=False)
    fresh = await load()
    await cache.fill(key, fresh, TTL["record"])
    return fresh


Fetch = Callable[[asyncpg.Connection, uuid.UUID], Awaitable[asyncpg.Record | None]]


async def read_record(request: web.Request, table: str, record_id: uuid.UUID, fetch: Fetch,
                      missing: str) -> dict[str, Any]:
    """GET of one record: cache-aside around `fetch` run through RLS as the caller."""

    async def load() -> dict[str, Any]:
        async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
            row = await fetch(conn, record_id)
        if row is None:
            raise NotFound(missing)
        return record(row)

    return await cached_record(request, table, record_id, load)


async def project_view(request: web.Request, project_id: uuid.UUID, name: str,
                       variant: Mapping[str, Any], load: Loader) -> dict[str, Any]:
    """A derived view of one project (summary, a list's first page), keyed by the project's
    generation and served only to callers who can see the project."""
    cache = request.app[CACHE]
    (generation,) = await cache.generations([project_generation_key(project_id)])
    visible = await visible_projects(request)
    allowed = visible is None or str(project_id) in visible
    key = list_key(name, project_id, generation, variant)
    if generation >= 0 and allowed:
        cached = await cache.get(key)
        if cached is not None:
            return dict(cached)
    fresh = await load()  # RLS decides (404) when the visible set says no
    if generation >= 0:
        await cache.fill(key, fresh, TTL["list"])
    return fresh
