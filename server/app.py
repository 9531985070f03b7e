"""`create_app(settings)`: the one place that wires the pool, Redis, routes and the hub."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from redis.exceptions import RedisError

from db.pool import create_pool
from db.redis_pool import bounded_client
from server import collector
from server.auth.identity import SESSION_CACHE_TTL, auth_middleware
from server.auth.invitations import mailer_for
from server.auth.session_copies import SessionCopies
from server.auth.throttle import make_throttles
from server.background import Background
from server.cache.admin import stats_ctx
from server.cache.store import MemoryCache, NullCache, RedisCache, keep_epoch
from server.config import Settings
from server.errors import error_middleware
from server.exports.jobs import setup_export_jobs
from server.file_store import setup_files
from server.http import answered_middleware, headers_middleware, limits_middleware, log_access
from server.keys import (
    BACKGROUND,
    CACHE,
    MAILER,
    METRICS,
    ON_SESSIONS_REVOKED,
    POOL,
    REDIS,
    SESSION_COPIES,
    SETTINGS,
    THROTTLES,
    MetricsSource,
)
from server.lifecycle import setup_lifecycle
from server.live import setup_realtime
from server.procurement import setup_procurement
from server.prometheus import PROMETHEUS, app_metrics, cache_source, request_observer, uptime
from server.reminders import setup_reminders
from server.routes import ROUTE_MODULES
from server.routes.reports import register_weekly_job

log = logging.getLogger("formula_pm.app")
REDIS_POOL_MAX = 32  # cache, sessions and throttles of one worker


async def _pool_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    assert settings.database_url, "create_app needs settings.database_url"
    app[POOL] = await create_pool(
        settings.database_url, min_size=settings.pool_min_size,
        max_size=settings.pool_max_size, command_timeout=settings.db_command_timeout,
        acquire_timeout=settings.db_pool_timeout,
    )
    yield
    await app[POOL].close()


async def _redis_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if not settings.redis_url:
        log.info("no REDIS_URL: one worker, in-process cache and fan-out")
        app[CACHE] = (MemoryCache(settings.key_prefix) if settings.cache_enabled
                      else NullCache(settings.key_prefix))
        app[THROTTLES] = make_throttles(settings.key_prefix, None)
        yield
        return
    client = bounded_client(settings.redis_url, REDIS_POOL_MAX, 1.0, socket_timeout=1.0,
                            socket_connect_timeout=1.0, health_check_interval=10)
    app[REDIS] = client  # the cache statistics publisher uses it too
    cache = RedisCache(client, settings.key_prefix)
    app[CACHE] = cache if settings.cache_enabled else NullCache(settings.key_prefix)
    if settings.cache_enabled:
        app[SESSION_COPIES] = SessionCopies(SESSION_CACHE_TTL)
    app[THROTTLES] = make_throttles(settings.key_prefix, client)
    try:
        await client.ping()
        await cache.refresh_epoch()
    except (RedisError, OSError) as exc:
        cache.healthy = False
        log.warning("redis not reachable at start-up, running degraded: %s", exc)
    epoch_task = asyncio.create_task(keep_epoch(cache), name="cache-epoch")
    yield
    epoch_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await epoch_task
    await client.aclose()


async def _background_ctx(app: web.Application) -> AsyncIterator[None]:
    # Registered after the pool and Redis: cleaned up before them, while the work can
    # still use them.
    yield
    await app[BACKGROUND].close()


def create_app(settings: Settings) -> web.Application:
    sources: list[MetricsSource] = [collector.metrics]
    metrics = app_metrics(sources)
    app = web.Application(
        # Metrics and the access log outside the error middleware: they see the status the
        # client got, not the exception a handler raised.
        middlewares=[answered_middleware(request_observer(metrics), log_access), error_middleware,
                     headers_middleware, limits_middleware, auth_middleware],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[ON_SESSIONS_REVOKED] = []
    app[MAILER] = mailer_for(settings)
    app[BACKGROUND] = Background()
    sources += [uptime, cache_source(app)]
    app[PROMETHEUS] = metrics
    app[METRICS] = sources
    app.cleanup_ctx.append(_pool_ctx)
    app.cleanup_ctx.append(_redis_ctx)
    app.cleanup_ctx.append(_background_ctx)
    setup_files(app)  # after the background work: stopped before it, with the pool up
    setup_procurement(app)  # the at-risk check, likewise
    if settings.redis_url:
        app.cleanup_ctx.append(stats_ctx)
    setup_lifecycle(app)
    setup_reminders(app)  # after the pool: stopped before it closes
    for module in ROUTE_MODULES:
        app.add_routes(module.routes)
    setup_realtime(app)
    register_weekly_job(app)  # the weekly report as a job kind (before the lists')
    setup_export_jobs(app)  # after every route (the lists are its kinds), stopped first
    return app
