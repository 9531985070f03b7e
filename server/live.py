"""Wiring of the real-time hub and the change leader into the app (plain callables only)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from db.pool import Actor
from realtime.feed.events import Event, is_bulk
from realtime.feed.leader import Leader, LeaderConfig
from realtime.hub.clients import Identity
from realtime.hub.handlers import Handlers
from realtime.hub.hub import Hub, HubConfig
from realtime.hub.socketio_ext.fast_emit import Prelude
from server.auth.identity import authenticate
from server.auth.sessions import ends_sessions, revoke_user_sessions
from server.cache.keys import plan_all
from server.cache.store import TOMBSTONE_TTL, Cache, RedisCache
from server.errors import ApiError
from server.keys import (
    CACHE,
    METRICS,
    ON_SESSIONS_REVOKED,
    POOL,
    REALTIME_METRICS,
    REALTIME_STATUS,
    SETTINGS,
    SOCKET_OWNER,
)
from server.prometheus import PROMETHEUS

log = logging.getLogger("formula_pm.realtime")

HUB = web.AppKey("realtime_hub", Hub)
LEADER = web.AppKey("realtime_leader", Leader)


def setup_realtime(app: web.Application) -> None:
    """Attach the Socket.IO hub at /socket.io and start hub and leader with the app."""
    settings = app[SETTINGS]

    async def check_token(token: str) -> Identity | None:
        try:
            return await authenticate(app, token)
        except ApiError:
            return None

    hub = Hub(HubConfig(redis_url=settings.redis_url, key_prefix=settings.key_prefix,
                        max_message_bytes=settings.socket_max_message_bytes,
                        max_buffer_bytes=settings.socket_max_buffer_bytes,
                        max_sockets_per_user=settings.socket_max_per_user,
                        connect_timeout=settings.socket_connect_timeout,
                        cors_origins=settings.cors_origins), check_token)
    handlers = Handlers(hub)
    hub.attach(app)
    async def publish(events: list[Event]) -> None:
        await hub.publish([e for e in events if not is_bulk(e)],
                          quiet=[e for e in events if is_bulk(e)],
                          prelude=invalidation(app[CACHE], events))

    async def end_identities(events: list[Event]) -> None:
        # Before the events are published; the cache's invalidation rides with the publish
        # itself (`invalidation`): one round trip to Redis.
        await end_changed_identities(app, events)

    leader = Leader(LeaderConfig(dsn=settings.database_url or "", mode=settings.realtime_mode,
                                 stall_after=settings.leader_stall_after,
                                 heads_dir=settings.data_dir / "audit-heads",
                                 head_every=settings.audit_head_every,
                                 retention_months=settings.audit_retention_months,
                                 export_dir=settings.audit_export_dir),
                    publish, end_identities, app[PROMETHEUS].delivery_lag.observe)
    app[HUB], app[LEADER] = hub, leader
    app[SOCKET_OWNER] = hub.socket_owner
    app[ON_SESSIONS_REVOKED].append(hub.on_sessions_revoked)

    async def status() -> dict[str, Any]:
        return await leader.status(app[POOL])

    def metrics() -> dict[str, float]:
        stats = leader.feed.stats
        return {**hub.metrics(), "fpm_realtime_leader": float(leader.role == "leader"),
                # _sum and _count: the fpm_realtime_delivery_lag_seconds histogram.
                "fpm_realtime_delivery_lag_seconds_last": stats.lag_last,
                # Audit rows sent without their values because they could not be events.
                "fpm_realtime_rows_failed_total": float(leader.feed.failures.count),
                "fpm_realtime_resync_rows_failed_total": float(handlers.failures.count),
                # Audit rows this worker's leader linked into the hash chain.
                "fpm_audit_chain_linked_total": float(leader.chainer.stats.linked),
                # The audit log's monthly partitions this worker's leader created ahead,
                # and dropped (with their rows) for AUDIT_RETENTION_MONTHS.
                "fpm_audit_partitions_created_total": float(leader.partitions.stats.created),
                "fpm_audit_partitions_dropped_total": float(leader.partitions.stats.dropped),
                "fpm_audit_rows_retired_total": float(leader.partitions.stats.rows_dropped)}

    app[REALTIME_STATUS] = status
    app[REALTIME_METRICS] = metrics
    app[METRICS].append(metrics)
    app.on_shutdown.append(_close_sockets)
    app.cleanup_ctx.append(_realtime_ctx)


def changed_identities(events: list[Event]) -> list[uuid.UUID]:
    """The users whose role, status or client company one of the events changed."""
    users = {e.record_id for e in events
             if e.table == "users" and e.action == "update" and e.record_id
             and ends_sessions(e.changed_fields, (e.payload.get("data") or {}).get("status"))}
    return [uuid.UUID(u) for u in sorted(u for u in users if u)]


def invalidation(cache: Cache, events: list[Event]) -> Prelude | None:
    """What the events change in the cache, done before they are published or delivered:
    with Redis, as commands at the head of the publish's pipeline (the writer's request
    invalidated the same already; this catches every other path and a writer that died
    after its commit)."""
    try:
        todo = plan_all(e.change() for e in events if e.table)
    except Exception:  # the events go out all the same; cached entries expire anyway
        log.exception("planning the cache invalidation of %d events failed", len(events))
        return None
    keys, bump = sorted(todo.delete), sorted(todo.bump)
    if not keys and not bump:
        return None

    async def alone() -> None:
        try:
            await cache.retire(keys, TOMBSTONE_TTL, bump)
        except Exception:  # the events go out all the same; cached entries expire anyway
            log.exception("cache invalidation failed")

    commands = cache.retire_commands(keys, TOMBSTONE_TTL, bump) \
        if isinstance(cache, RedisCache) else ()
    return Prelude(commands, alone)


async def end_changed_identities(app: web.Application, events: list[Event]) -> None:
    """End the sessions of users changed outside the users API too (an import, plain SQL):
    the API does it before it answers, and this catches every other path."""
    for user_id in changed_identities(events):
        try:
            await revoke_user_sessions(app, user_id, "identity changed", Actor(None, None))
        except Exception:  # the feed goes on; the REST path revoked already where it could
            log.exception("ending the sessions of user %s failed", user_id)


async def _close_sockets(app: web.Application) -> None:
    """On shutdown, before aiohttp waits for the open requests (a socket is one)."""
    closed = await app[HUB].close_sockets()
    if closed:
        log.info("sockets closed for shutdown", extra={"sockets": closed})


async def _realtime_ctx(app: web.Application) -> AsyncIterator[None]:
    hub, leader = app[HUB], app[LEADER]
    await hub.start(app[POOL])
    task = asyncio.create_task(leader.run(), name="change-leader")
    yield
    await _stop(task)
    await hub.stop()


async def _stop(task: asyncio.Task[None]) -> None:
    """Cancel until done: a cancel that lands in a library's cleanup must not be lost."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1)
    with contextlib.suppress(asyncio.CancelledError):
        task.result()
