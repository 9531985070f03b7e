"""Prometheus metrics: requests, cache, and whatever else registered a source.

Served only to METRICS_ALLOW addresses; anyone else gets the 404 of an unknown path, so
the endpoint does not advertise itself."""

from __future__ import annotations

import re
import time

from aiohttp import web

from server.auth.identity import from_operators
from server.keys import CACHE, METRICS
from server.openapi import doc

routes = web.RouteTableDef()
_STARTED = time.time()
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?$")


def _lines(values: dict[str, float]) -> list[str]:
    out: list[str] = []
    typed: set[str] = set()
    for name, value in sorted(values.items()):
        if not _NAME.match(name):
            continue
        base = name.split("{", 1)[0]
        if base not in typed:
            typed.add(base)
            out.append(f"# TYPE {base} {'counter' if base.endswith('_total') else 'gauge'}")
        out.append(f"{name} {float(value):g}")
    return out


@routes.get("/metrics")
@doc(summary="Prometheus metrics (METRICS_ALLOW addresses; anyone else: 404)",
     media=["text/plain"], errors=[404], tags=["health"])
async def metrics(request: web.Request) -> web.Response:
    if not from_operators(request):
        raise web.HTTPNotFound()  # the very answer of an unknown path
    stats = request.app[CACHE].stats()
    values: dict[str, float] = {
        "fpm_uptime_seconds": time.time() - _STARTED,
        "fpm_cache_hits_total": stats["hits"],
        "fpm_cache_misses_total": stats["misses"],
        "fpm_cache_errors_total": stats["errors"],
        "fpm_cache_hit_ratio": stats["hit_rate"],
        "fpm_cache_up": 1.0 if stats["status"] == "healthy" else 0.0,
    }
    for source in request.app.get(METRICS, []):
        values.update(source())
    body = "\n".join(_lines(values)) + "\n"
    return web.Response(text=body, content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})
