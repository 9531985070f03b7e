"""/api/v1/admin/stats: an org admin's view of its own organisation (rows per resource, its
cache hit rate) and the service's health in one word per part. Database-wide figures are
for operators (`formula-pm db stats`), never served here."""

from __future__ import annotations

import datetime as dt

import pydantic
from aiohttp import web

from db.pool import system_transaction
from db.queries import organizations
from server.auth.identity import identity
from server.auth.permissions import Perm, require
from server.cache.admin import org_hit_counts
from server.keys import POOL
from server.openapi import doc
from server.rest import json_response
from server.routes.health import readiness_parts

routes = web.RouteTableDef()


class CacheShare(pydantic.BaseModel):
    hits: int
    misses: int
    hit_rate: float


class AdminStats(pydantic.BaseModel):
    """What an org admin sees of its own organisation (nothing of any other)."""

    org_id: str
    rows: dict[str, int]
    cache: CacheShare
    health: dict[str, str | None]
    timestamp: str


@routes.get("/api/v1/admin/stats")
@doc(summary="The organisation's row counts, cache hit rate and the service's health "
     "(org admins)", response=AdminStats, errors=[403], tags=["admin"])
async def admin_stats(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.MANAGE_USERS)  # org admins only
    async with system_transaction(request.app[POOL]) as conn:
        rows = await organizations.row_counts(conn, who.org_id)
    hits, misses = await org_hit_counts(request.app, who.org_id)
    health = await readiness_parts(request)
    return json_response({
        "org_id": str(who.org_id),
        "rows": rows,
        "cache": {"hits": hits, "misses": misses,
                  "hit_rate": round(hits / (hits + misses), 4) if hits + misses else 0.0},
        "health": {part: body.get("status") for part, body in health.items()},
        "timestamp": dt.datetime.now(dt.UTC).isoformat(),
    })
