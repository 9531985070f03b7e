"""Cache-aside reads that never outrun authorisation.

A cached record is served only when the caller passes the same checks row-level security
would make: same organisation, and (for project-owned records) a project in the caller's
visible set — itself cached per user under the org generation, so a membership change
retires every visible set of that organisation at once. Anything else goes to PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from db.pool import transaction
from server.auth.identity import Identity, actor, identity
from server.cache_keys import TTL, org_generation_key, record_key, visibility_key
from server.keys import CACHE, POOL

ALL_PROJECTS = "*"

Loader = Callable[[], Awaitable[dict[str, Any]]]


async def visible_projects(request: web.Request) -> set[str] | None:
    """The ids of the projects the caller can see; None means every project of the org."""
    who = identity(request)
    cache = request.app[CACHE]
    (generation,) = await cache.generations([org_generation_key(who.org_id)])
    key = visibility_key(generation, who.user_id) if generation >= 0 else None
    cached = await cache.get(key) if key else None
    if cached is None:
        async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
            admin = await conn.fetchval("SELECT app_is_org_admin()")
            ids = [] if admin else await conn.fetchval("SELECT app_visible_project_ids()")
        cached = ALL_PROJECTS if admin else [str(i) for i in ids]
        if key:
            await cache.fill(key, cached, TTL["visibility"])
    return None if cached == ALL_PROJECTS else set(cached)


def _project_of(table: str, row: dict[str, Any]) -> str | None:
    if table == "projects":
        return str(row["id"])
    value = row.get("project_id")
    return None if value is None else str(value)


async def may_read(request: web.Request, table: str, row: dict[str, Any]) -> bool:
    """Would RLS let the caller read this (cached) row? Conservative where unsure."""
    who: Identity = identity(request)
    if str(row.get("org_id")) != str(who.org_id):
        return False
    if table == "clients" and who.client_id is not None:
        return str(row["id"]) == str(who.client_id)
    project = _project_of(table, row)
    if project is None:
        return table in ("clients", "users")
    visible = await visible_projects(request)
    return visible is None or project in visible


async def cached_record(request: web.Request, table: str, record_id: uuid.UUID,
                        load: Loader) -> dict[str, Any]:
    """The record from the cache (after the access check) or from `load` (through RLS)."""
    cache = request.app[CACHE]
    key = record_key(table, record_id)
    row = await cache.get(key)
    if row is not None and await may_read(request, table, row):
        return dict(row)
    fresh = await load()
    await cache.fill(key, fresh, TTL["record"])
    return fresh
