"""Typed keys of what `create_app` puts on the application (and routes read)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from server.auth.session_copies import SessionCopies
from server.auth.throttle import Throttles
from server.background import Background
from server.cache.store import Cache
from server.config import Settings
from storage.backend import Storage

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", asyncpg.Pool)
CACHE = web.AppKey("cache", Cache)
REDIS = web.AppKey("redis", aioredis.Redis)  # set only with REDIS_URL
# This worker's copies of session facts (set only with a shared cache: REDIS_URL).
SESSION_COPIES = web.AppKey("session_copies", SessionCopies)
# sid -> owning user id (or None): lets X-Socket-ID be honoured only for the caller's socket.
SocketOwner = Callable[[str], Awaitable[Any]]
SOCKET_OWNER: web.AppKey[SocketOwner] = web.AppKey("socket_owner")
# () -> the realtime part of /health/ready.
RealtimeStatus = Callable[[], Awaitable[dict[str, Any]]]
REALTIME_STATUS: web.AppKey[RealtimeStatus] = web.AppKey("realtime_status")
# Called with (user_id, session ids) after sessions are revoked, so sockets can be dropped.
RevokedHook = Callable[[Any, list[Any]], Awaitable[None]]
ON_SESSIONS_REVOKED: web.AppKey[list[RevokedHook]] = web.AppKey("on_sessions_revoked")
# Outgoing mail (SMTP or the DATA_DIR outbox); tests put a capturing fake here.
MAILER: web.AppKey[Any] = web.AppKey("mailer")
# Failure counters of sign-in, password change and reset requests.
THROTTLES = web.AppKey("throttles", Throttles)
# Work a handler leaves running after its answer (finished or cancelled at shutdown).
BACKGROUND = web.AppKey("background", Background)
# Sources of /metrics: each returns {metric_name: value}; names ending in _total are counters,
# labels go in the name (`x{label="v"}`); server/prometheus.py says what each one means.
MetricsSource = Callable[[], dict[str, float]]
METRICS: web.AppKey[list[MetricsSource]] = web.AppKey("metrics")
# () -> realtime counters and gauges (sockets, events emitted, delivery lag) for /metrics.
RealtimeMetrics = Callable[[], dict[str, float]]
REALTIME_METRICS: web.AppKey[RealtimeMetrics] = web.AppKey("realtime_metrics")
# Where attachments' bytes live (server/file_store.py opens it with the app).
STORAGE: web.AppKey[Storage] = web.AppKey("storage")
