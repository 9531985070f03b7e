"""HTTP middlewares that every response passes: access log, security headers, CORS."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from server.errors import REQUEST_ID, Handler, UriTooLong
from server.keys import SETTINGS

access_log = logging.getLogger("formula_pm.access")
SOCKETIO_PATH = "/socket.io/"

# aiohttp answers an over-long request line with plain text before any middleware runs, so
# its parser limits are set well above ours and the limits are enforced here as problem+json.
MAX_URL_LENGTH = 8192
HANDLER_ARGS = {"max_line_size": 65536, "max_field_size": 16384}

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'"
    ),
}
CORS_METHODS = "GET, POST, PATCH, PUT, DELETE, OPTIONS"
CORS_HEADERS = "Authorization, Content-Type, If-Match, Idempotency-Key, X-Request-ID, X-Socket-ID"
# What a page of another origin may read of an answer (a download's file name included).
CORS_EXPOSED = "ETag, X-Request-ID, Retry-After, Content-Disposition"


# Told of every answer: the request, the status the client got, and the seconds it took.
Observer = Callable[[web.Request, int, float], None]


def answered_middleware(*observers: Observer) -> Middleware:
    """Times each request and learns the status the client got, once, for every observer
    (the access log, the metrics). Placed outside the error middleware, so a handler's
    ApiError is already its problem+json answer when it is seen."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:  # what the error middleware lets through (< 400)
            status = exc.status
            raise
        finally:
            elapsed = time.perf_counter() - started
            for observe in observers:
                observe(request, status, elapsed)

    return middleware


def log_access(request: web.Request, status: int, elapsed: float) -> None:
    access_log.info("%s %s %s", request.method, request.path, status,
                    extra=access_fields(request, status, elapsed))


def access_fields(request: web.Request, status: int, elapsed: float) -> dict[str, Any]:
    """The access log line's fields. `ms` is what answering took; a websocket's handler
    returns only when the socket closes, so its line (written then) has `websocket` and
    `lifetime_s` instead, and a Socket.IO long poll (held open until there is something to
    send) says so, lest either be read as a slow request."""
    fields: dict[str, Any] = {"request_id": request.get(REQUEST_ID), "status": status}
    if status == 101:
        fields["websocket"] = True
        fields["lifetime_s"] = round(elapsed, 3)
        return fields
    fields["ms"] = round(elapsed * 1000, 2)
    if request.path == SOCKETIO_PATH and request.query.get("transport") == "polling":
        fields["long_poll"] = True
    return fields


@web.middleware
async def limits_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if len(request.raw_path) > MAX_URL_LENGTH:
        raise UriTooLong(f"The URL is longer than {MAX_URL_LENGTH} characters")
    return await handler(request)


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every answer; CORS only for configured origins.

    Not aiohttp-cors, which cannot do what this does: (1) it answers a preflight from a
    route of its own, so the request first passes the auth middleware and gets its 401
    (a preflight carries no token); here it is answered before auth and limits. (2) It
    adds the headers only on the responses of resources registered with it, so the
    problem+json of an unknown path or a 405 stays unreadable to the browser; here every
    answer gets them. (3) It cannot register the /socket.io resource, which
    python-socketio gave an OPTIONS handler of its own. (4) It refuses a preflight from
    an origin not listed with a plain-text 403 (not problem+json); here such a request
    simply gets no CORS headers. (5) It sends no `Vary: Origin`, so a shared cache could
    hand one origin's Access-Control-Allow-Origin to another. No credentials mode is
    needed: the API authenticates with bearer tokens, never cookies."""
    preflight = request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
    if preflight and _allowed_origin(request):
        response: web.StreamResponse = web.Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
        response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
    else:
        response = await handler(request)
    if not response.prepared:
        answer_headers(request, response)
    return response


def _allowed_origin(request: web.Request) -> str | None:
    origin = request.headers.get("Origin")
    return origin if origin is not None and origin in request.app[SETTINGS].cors_origins else None


def answer_headers(request: web.Request, response: web.StreamResponse) -> None:
    """The security headers (those already set win) and, for a configured origin, CORS.
    The middleware adds them to what a handler returns unprepared; a handler that streams
    (prepares its answer itself, e.g. a file download) calls this before `prepare`."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    origin = _allowed_origin(request)
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSED
        response.headers["Vary"] = "Origin"
    if REQUEST_ID in request:  # a streamed answer is prepared before the error middleware's
        response.headers.setdefault("X-Request-ID", request[REQUEST_ID])
