"""The Socket.IO hub of one worker: connect, rooms, emitting events, eviction, revocation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import redis.asyncio as aioredis
import socketio
from aiohttp import web
from redis.exceptions import RedisError

from db.pool import system_transaction, transaction
from db.queries import changes as q
from db.redis_pool import bounded_client
from realtime.feed.events import (
    Event,
    audience_room,
    org_room,
    project_room,
    rechecks,
    user_room,
)
from realtime.hub.backlog import DEFAULT_LIMIT
from realtime.hub.clients import Client, Clients, Identity
from realtime.hub.limits import SOCKET_WORK_AT_ONCE
from realtime.hub.presence import MemoryPresenceStore, Presence, PresenceStore, RedisPresenceStore
from realtime.hub.socketio_ext import packet_json
from realtime.hub.socketio_ext.bus import LocalManager, RedisManager
from realtime.hub.socketio_ext.fast_emit import Emission, Prelude
from realtime.hub.socketio_ext.protocol import NAMESPACE, HubServer

log = logging.getLogger("formula_pm.realtime.hub")

Authenticate = Callable[[str], Awaitable[Identity | None]]
OWNER_TTL = 24 * 3600
# How long a worker reuses a user's display names for presence (a reconnect storm of the
# same users then costs no transaction per connect for them).
NAMES_TTL = 30.0
# What a missing database looks like to a socket handler: the server restarting or gone, a
# connection broken mid-statement, a statement or pool wait that ran out of time.
DATABASE_AWAY = (asyncpg.PostgresConnectionError, asyncpg.OperatorInterventionError,
                 asyncpg.InterfaceError, asyncpg.InternalClientError, OSError, TimeoutError)


@dataclass(frozen=True)
class HubConfig:
    redis_url: str | None = None
    key_prefix: str = "fpm:dev:"
    cors_origins: tuple[str, ...] = ()
    max_message_bytes: int = 64 * 1024
    max_buffer_bytes: int = DEFAULT_LIMIT
    presence_interval: float = 1.0
    presence_dead_after: float = 10.0
    max_sockets_per_user: int = 20
    # Seconds an Engine.IO session has to finish the Socket.IO connect before it is closed.
    connect_timeout: float = 10.0


def _target(rooms: tuple[str, ...]) -> str | list[str]:
    """One room by name, several as a list (as the Socket.IO server's ``to``)."""
    return rooms[0] if len(rooms) == 1 else list(rooms)


def _token(environ: dict[str, Any], auth: Any) -> str | None:
    if isinstance(auth, dict) and isinstance(auth.get("token"), str) and auth["token"]:
        return str(auth["token"])
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class Hub:
    def __init__(self, config: HubConfig, authenticate: Authenticate) -> None:
        self.config = config
        self.authenticate = authenticate
        self.worker = uuid.uuid4().hex[:12]
        self.manager: LocalManager | RedisManager = (
            RedisManager(config.redis_url, channel=f"{config.key_prefix}socketio")
            if config.redis_url else LocalManager())
        self.manager.handler = self._internal
        self.manager.backlog.limit = config.max_buffer_bytes
        self.sio = HubServer(
            connect_timeout=config.connect_timeout,
            client_manager=self.manager, async_mode="aiohttp", logger=False,
            cors_allowed_origins=list(config.cors_origins) or None,
            # Larger packets close the connection (Engine.IO's own limit, checked before
            # any decoding).
            max_http_buffer_size=config.max_message_bytes, json=packet_json)
        self.clients = Clients()
        self.redis: aioredis.Redis | None = None
        self.presence = Presence(MemoryPresenceStore(), self._send_presence,
                                 config.presence_interval)
        self.recheck_epoch = 0
        self.emitted = 0
        # Admission of socket work that needs the database (see limits.SOCKET_WORK_AT_ONCE).
        self.admission = asyncio.Semaphore(SOCKET_WORK_AT_ONCE)
        self.admission_waits = 0
        self._names: dict[str, tuple[float, tuple[str, str]]] = {}
        self._pool: asyncpg.Pool | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnect)

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "the hub is not started"
        return self._pool

    def attach(self, app: web.Application) -> None:
        self.sio.attach(app, socketio_path="socket.io")

    async def start(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        if self.config.redis_url:
            self.redis = bounded_client(self.config.redis_url, 32, 5, socket_timeout=2,
                                        socket_connect_timeout=2)
            store: PresenceStore = RedisPresenceStore(
                self.redis, self.config.key_prefix, self.worker,
                self.config.presence_dead_after)
            self.presence = Presence(store, self._send_presence, self.config.presence_interval)
            try:  # the manager connects lazily: find out now whether Redis answers
                await self.redis.ping()
            except (RedisError, OSError) as exc:
                log.warning("redis not reachable: events reach only this worker: %s", exc)
        # Subscribe to the bus now, not at the first socket: the leader may live here.
        self.sio.manager_initialized = True
        self.manager.initialize()
        self._tasks.append(asyncio.create_task(self.presence.maintain()))
        self._tasks.append(asyncio.create_task(self.manager.backlog.sweep()))

    async def close_sockets(self) -> int:
        """Close every socket of this worker the way a client expects a server to go away
        (see `HubServer.close_sessions`), so that clients reconnect at once instead of
        after a ping timeout. Run before the web server waits for its handlers: a socket's
        handler ends only when its socket is closed. Returns how many were open."""
        return await self.sio.close_sessions()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.presence.close()
        await self.sio.shutdown()
        for client in list(self.clients.by_sid.values()):
            await self._forget(client)
        if isinstance(self.manager, RedisManager):
            await self.manager.close()
        if self.redis is not None:
            await self.redis.aclose()

    # -- connections ---------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        """Socket work that needs the database: a few at a time per worker (never nest)."""
        if self.admission.locked():
            self.admission_waits += 1
        async with self.admission:
            yield

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        if not self.manager.is_pre_connected(sid, NAMESPACE) or self.clients.get(sid):
            # Only the library's connect of a new socket may run this (socketio_ext.protocol
            # drops a client's "connect" event): a known socket is never re-authenticated.
            log.warning("second connect of socket %s refused", sid)
            return False
        token = _token(environ, auth)
        try:
            async with self.admitted():
                who = await self.authenticate(token) if token else None
                if who is None:
                    raise socketio.exceptions.ConnectionRefusedError(
                        "unauthorized", {"code": "unauthorized"})
                client = Client.of(sid, who)
                client.first_name, client.last_name = await self._user_names(client)
        except DATABASE_AWAY as exc:  # refused, not left hanging: the client retries
            log.warning("socket refused while the database is unavailable: %s", exc)
            raise socketio.exceptions.ConnectionRefusedError(
                "unavailable", {"code": "unavailable"}) from exc
        await self._take_slot(client)
        self.clients.add(client)
        await self.sio.enter_room(sid, user_room(client.user_id))
        if client.is_staff:
            await self.sio.enter_room(sid, org_room(client.org_id))
        await self._redis_op(self._remember_owner(sid, client.user_id))
        return True

    async def _take_slot(self, client: Client) -> None:
        """One of the user's sockets: refused over `max_sockets_per_user`, counted across
        workers in the presence store (on this worker alone while Redis is away)."""
        cap = self.config.max_sockets_per_user
        taken = self.clients.count_of(client.user_id) < cap
        if taken:
            try:
                taken = await self.presence.store.claim_socket(client.user_id, client.sid, cap)
            except (RedisError, OSError) as exc:
                log.warning("socket cap counted on this worker only: %s", exc)
        if not taken:
            raise socketio.exceptions.ConnectionRefusedError(
                f"at most {cap} connections per user", {"code": "too_many_sockets",
                                                        "limit": cap})

    async def _user_names(self, client: Client) -> tuple[str, str]:
        """The user's (first, last) name, from PostgreSQL at most every NAMES_TTL seconds."""
        now = time.monotonic()
        known = self._names.get(client.user_id)
        if known is not None and known[0] > now:
            return known[1]
        async with transaction(self.pool, client.actor(), readonly=True) as conn:
            names = await q.user_names(conn, uuid.UUID(client.user_id))
        if len(self._names) > 10_000:
            self._names = {k: v for k, v in self._names.items() if v[0] > now}
        self._names[client.user_id] = (now + NAMES_TTL, names)
        return names

    async def _disconnect(self, sid: str, reason: Any = None) -> None:
        if self.manager.is_connected(sid, NAMESPACE):
            return  # the library marks a socket as leaving first: this is not its call
        client = self.clients.pop(sid)
        if client is not None:
            await self._forget(client)

    async def _forget(self, client: Client) -> None:
        for project in list(client.projects):
            await self.presence.leave(project, client.sid)
        client.projects.clear()
        await self._redis_op(self.presence.store.release_socket(client.user_id, client.sid))
        if self.redis is not None:
            await self._redis_op(self.redis.delete(self._owner_key(client.sid)))

    def _owner_key(self, sid: str) -> str:
        return f"{self.config.key_prefix}socket:{sid}"

    async def _remember_owner(self, sid: str, user_id: str) -> None:
        if self.redis is not None:
            await self.redis.set(self._owner_key(sid), user_id, ex=OWNER_TTL)

    async def socket_owner(self, sid: str) -> str | None:
        """The user owning socket `sid` on any worker (this one's from memory)."""
        client = self.clients.get(sid)
        if client is not None:
            return client.user_id
        if self.redis is None or not sid or len(sid) > 64:
            return None
        try:
            owner = await self.redis.get(self._owner_key(sid))
        except (RedisError, OSError):
            return None
        return (owner.decode() if isinstance(owner, bytes) else str(owner)) if owner else None

    async def _redis_op(self, op: Awaitable[Any]) -> None:
        try:
            await op
        except (RedisError, OSError) as exc:
            log.warning("redis unavailable: %s", exc)

    # -- visibility ----------------------------------------------------------------------

    async def access(self, client: Client, project_id: uuid.UUID) -> str:
        """"ok", "forbidden" (in the org but not visible) or "not_found"."""
        async with self.admitted():
            async with transaction(self.pool, client.actor(), readonly=True) as conn:
                if await q.can_see_project(conn, project_id):
                    return "ok"
            return await self.refusal(client, project_id)

    async def refusal(self, client: Client, project_id: uuid.UUID) -> str:
        """Why a project the client may not see is refused: "forbidden" or "not_found"."""
        async with system_transaction(self.pool) as conn:
            exists = await q.project_in_org(conn, project_id, uuid.UUID(client.org_id))
        return "forbidden" if exists else "not_found"

    async def enter_rooms(self, client: Client, project: str) -> None:
        """The project room and the room of the client's audience (staff or client)."""
        await self.sio.enter_room(client.sid, project_room(project))
        await self.sio.enter_room(client.sid, audience_room(project, client.is_staff))

    async def leave_rooms(self, client: Client, project: str) -> None:
        """Out of the project room and both audience rooms (the record may be stale)."""
        await self.sio.leave_room(client.sid, project_room(project))
        for staff in (True, False):
            await self.sio.leave_room(client.sid, audience_room(project, staff))

    def _members(self, room: str) -> list[str]:
        """The sockets of this worker in `room`, as the Socket.IO manager holds them."""
        return [sid for sid, _ in self.manager.get_participants(NAMESPACE, room)]

    def _in_room(self, sid: str, room: str) -> bool:
        return sid in self.manager.rooms.get(NAMESPACE, {}).get(room, {})

    async def _cut(self, sid: str) -> None:
        """Disconnect a socket of this worker (no-op when it is already leaving)."""
        if self.manager.is_connected(sid, NAMESPACE):
            await self.sio.disconnect(sid, ignore_queue=True)

    async def evict(self, client: Client, project: str, reason: str) -> None:
        room = project_room(project)
        if project not in client.projects and not self._in_room(client.sid, room):
            return
        client.projects.discard(project)
        await self.leave_rooms(client, project)
        await self.sio.emit("evicted", {"project_id": project, "reason": reason},
                            to=client.sid, ignore_queue=True)
        await self.presence.leave(project, client.sid)

    # -- emitting ------------------------------------------------------------------------

    async def publish(self, events: list[Event], quiet: Sequence[Event] = (),
                      prelude: Prelude | None = None) -> None:
        """Emit the leader's events to every worker (after `prelude`: the cache's
        invalidation, in the same round trip to Redis), then have visibility re-checked
        after them and after the `quiet` ones (rows of a bulk import: not sent, yet they can
        take a project away from someone as well)."""
        await self.manager.emit_many([
            Emission(name, payload, _target(rooms), event.origin_sid)
            for event in events for name, payload, rooms in event.deliveries()], prelude)
        self.emitted += len(events)
        for message in rechecks([*events, *quiet]):
            await self.manager.broadcast(message)

    async def _send_presence(self, project: str, users: list[dict[str, Any]]) -> None:
        await self.sio.emit("presence", {"project_id": project, "users": users},
                            to=project_room(project))

    async def on_sessions_revoked(self, user_id: Any, session_ids: list[Any]) -> None:
        """Disconnect the sockets of revoked sessions on every worker."""
        if session_ids:
            await self.manager.broadcast({"kind": "revoke", "user_id": str(user_id),
                                          "session_ids": [str(s) for s in session_ids]})

    async def _internal(self, message: dict[str, Any]) -> None:
        kind = message.get("kind")
        if kind == "revoke":
            user_id = message.get("user_id")
            await self._revoke({str(s) for s in message.get("session_ids") or []},
                               str(user_id) if user_id else None)
        elif kind == "recheck":
            self.recheck_epoch += 1
            await self._recheck(str(message["project_id"]), message.get("user_id"),
                                bool(message.get("deleted")))

    async def _revoke(self, session_ids: set[str], user_id: str | None) -> None:
        """Disconnect this worker's sockets of revoked sessions: by the hub's records, and
        every socket in the user's room that is not provably another live session of the
        same user (no record, or another user's, is cut too)."""
        doomed = {c.sid for c in self.clients.of_sessions(session_ids)}
        for sid in self._members(user_room(user_id)) if user_id else ():
            client = self.clients.get(sid)
            if client is None or client.user_id != user_id or client.session_id in session_ids:
                doomed.add(sid)
        for sid in doomed:
            await self._cut(sid)

    async def _recheck(self, project: str, user_id: str | None, deleted: bool) -> None:
        """Evict the sockets in the project's room that may no longer see it (when one user
        lost access: that user's, and any whose record does not say it is subscribed); a
        socket in the room without a record of the hub is cut."""
        for sid in self._members(project_room(project)):
            client = self.clients.get(sid)
            if client is None:
                await self._cut(sid)
            elif (user_id is not None and client.user_id != user_id
                  and project in client.projects):
                continue
            elif deleted:
                await self.evict(client, project, "project_deleted")
            elif await self.access(client, uuid.UUID(project)) != "ok":
                await self.evict(client, project, "access_revoked")

    def metrics(self) -> dict[str, float]:
        return {"fpm_realtime_sockets": float(len(self.clients)),
                "fpm_realtime_packets_dropped_total": float(self.sio.dropped_packets),
                "fpm_realtime_unconnected_closed_total": float(self.sio.closed_unconnected),
                "fpm_realtime_events_emitted_total": float(self.emitted),
                "fpm_realtime_sockets_dropped_slow_total": float(self.manager.backlog.dropped),
                "fpm_realtime_admission_waits_total": float(self.admission_waits)}
