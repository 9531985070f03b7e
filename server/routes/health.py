"""Liveness and readiness: database, cache and realtime parts.

The detail of each part (errors, backends, leader, lag) is for operators: METRICS_ALLOW
addresses. Anyone else learns each part's status and the status code, nothing more."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any, Literal

import pydantic
from aiohttp import web

from db import admin_sql
from server.auth.identity import from_operators
from server.cache.store import RedisCache
from server.keys import CACHE, POOL, REALTIME_STATUS, SETTINGS
from server.openapi import doc

routes = web.RouteTableDef()

Part = dict[str, Any] | str | None  # operators get each part's detail, anyone else its status word


class Alive(pydantic.BaseModel):
    status: Literal["ok"]


class Ready(pydantic.BaseModel):
    status: Literal["healthy", "unhealthy"]  # the database's
    database: Part
    cache: Part
    realtime: Part
    timestamp: dt.datetime


@routes.get("/health")
@doc(summary="Liveness: the process answers", response=Alive, tags=["health"])
async def liveness(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _database(request: web.Request) -> dict[str, Any]:
    try:
        async with asyncio.timeout(2):
            async with request.app[POOL].acquire() as conn:
                await admin_sql.ping(conn)
        return {"status": "healthy"}
    except Exception as exc:  # any failure to reach PostgreSQL is "unhealthy", never a 500
        return {"status": "unhealthy", "error": type(exc).__name__}


async def _cache(request: web.Request) -> dict[str, Any]:
    cache = request.app[CACHE]
    if isinstance(cache, RedisCache):
        await cache.probe()
    stats = cache.stats()
    if not request.app[SETTINGS].redis_enabled:
        stats["mode"] = "single worker: no REDIS_URL, in-process cache and fan-out"
    return stats


async def readiness_parts(request: web.Request) -> dict[str, dict[str, Any]]:
    """{database, cache, realtime}: each a status and (for operators) its detail."""
    status_of = request.app.get(REALTIME_STATUS)
    realtime: dict[str, Any] = (await status_of() if status_of is not None
                                else {"status": "healthy", "detail": "not started"})
    return {"database": await _database(request), "cache": await _cache(request),
            "realtime": realtime}


@routes.get("/health/ready")
@doc(summary="Readiness: 503 while the database is unreachable (detail for METRICS_ALLOW only)",
     response=Ready, also=[503], tags=["health"])
async def readiness(request: web.Request) -> web.Response:
    parts = await readiness_parts(request)
    database = parts["database"]
    body = {
        "status": database["status"],
        **parts,
        "timestamp": dt.datetime.now(dt.UTC).isoformat(),
    }
    status = 200 if database["status"] == "healthy" else 503
    return web.json_response(body if from_operators(request) else summary(body), status=status)


def summary(body: dict[str, Any]) -> dict[str, Any]:
    """The readiness answer without detail: each part reduced to its status word."""
    return {key: value.get("status") if isinstance(value, dict) else value
            for key, value in body.items()}
