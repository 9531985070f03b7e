"""Prometheus metrics: requests, cache, and whatever else registered a source.

Served only to METRICS_ALLOW addresses; anyone else gets the 404 of an unknown path, so
the endpoint does not advertise itself."""

from __future__ import annotations

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from server.auth.identity import from_operators
from server.openapi import doc
from server.prometheus import PROMETHEUS

routes = web.RouteTableDef()


@routes.get("/metrics")
@doc(summary="Prometheus metrics (METRICS_ALLOW addresses; anyone else: 404)",
     media=["text/plain"], errors=[404], tags=["health"])
async def metrics(request: web.Request) -> web.Response:
    if not from_operators(request):
        raise web.HTTPNotFound()  # the very answer of an unknown path
    # The text format Prometheus asks for in Accept (OpenMetrics or the classic one).
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return web.Response(body=encode(request.app[PROMETHEUS].registry),
                        headers={"Content-Type": content_type,
                                 "X-Content-Type-Options": "nosniff"})
