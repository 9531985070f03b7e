"""Client -> server events (subscribe, unsubscribe, resync, typing), each answered by ack."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from db.pool import transaction
from db.queries import changes as q
from realtime.clients import Client
from realtime.cursor import decode_cursor, encode_cursor
from realtime.events import RESOURCES, ROW_ACTIONS, project_room
from realtime.feed import RowFailures, row_event
from realtime.hub import DATABASE_AWAY, Hub
from realtime.limits import MAX_SUBSCRIPTIONS

log = logging.getLogger("formula_pm.realtime.handlers")
RESYNC_LIMIT = 1000
REPLAYED_TABLES = sorted(t for t in RESOURCES if t != "notifications")
Ack = dict[str, Any]


def failure(code: str, message: str | None = None) -> Ack:
    error: dict[str, Any] = {"code": code}
    if message:
        error["message"] = message
    return {"ok": False, "error": error}


def _project_id(data: Any) -> uuid.UUID | None:
    raw = data.get("project_id") if isinstance(data, dict) else None
    try:
        return uuid.UUID(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


class Handlers:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.failures = RowFailures("resync")
        for name in ("subscribe", "unsubscribe", "resync", "typing"):
            hub.sio.on(name, self._limited(getattr(self, name)))

    def _limited(self, handler: Callable[[str, Any], Awaitable[Ack]]
                 ) -> Callable[[str, Any], Awaitable[Ack]]:
        """Every client event spends a token of its socket (a flood is disconnected) and is
        always answered: while the database is away, with `unavailable`."""

        async def limited(sid: str, data: Any = None) -> Ack:
            client = self._client(sid)
            if client is not None and not client.bucket.take(time.monotonic()):
                if client.bucket.flooding:
                    await self.hub.sio.disconnect(sid)
                return failure("rate_limited", "too many events; slow down")
            try:
                return await handler(sid, data)
            except DATABASE_AWAY as exc:  # the client retries, as after a REST 503
                log.warning("socket event while the database is unavailable: %s", exc)
                return failure("unavailable", "the database is unavailable; try again shortly")

        return limited

    def _client(self, sid: str) -> Client | None:
        return self.hub.clients.get(sid)

    async def subscribe(self, sid: str, data: Any = None) -> Ack:
        client, project_id = self._client(sid), _project_id(data)
        if client is None:
            return failure("unauthorized")
        if project_id is None:
            return failure("invalid", "project_id must be a UUID")
        if len(client.projects) >= MAX_SUBSCRIPTIONS and str(project_id) not in client.projects:
            return failure("too_many_subscriptions",
                           f"at most {MAX_SUBSCRIPTIONS} projects per connection")
        epoch = self.hub.recheck_epoch
        async with self.hub.admitted():  # access and horizon: one round trip
            async with transaction(self.hub.pool, client.actor(), readonly=True) as conn:
                visible, horizon = await q.visible_horizon(conn, project_id)
            if not visible:
                return failure(await self.hub.refusal(client, project_id))
        project = str(project_id)
        client.projects.add(project)
        await self.hub.enter_rooms(client, project)
        # Access may have been taken away while we were joining: look again.
        if epoch != self.hub.recheck_epoch and await self.hub.access(client, project_id) != "ok":
            await self.hub.evict(client, project, "access_revoked")
            return failure("forbidden")
        await self.hub.presence.join(project, sid, client.public())
        return {"ok": True, "cursor": encode_cursor((horizon, 0))}

    async def unsubscribe(self, sid: str, data: Any = None) -> Ack:
        client, project_id = self._client(sid), _project_id(data)
        if client is None:
            return failure("unauthorized")
        if project_id is None:
            return failure("invalid", "project_id must be a UUID")
        project = str(project_id)
        if project in client.projects:
            client.projects.discard(project)
            await self.hub.leave_rooms(client, project)
            await self.hub.presence.leave(project, sid)
        return {"ok": True}

    async def resync(self, sid: str, data: Any = None) -> Ack:
        """Every change of the project after the cursor that the user may read now."""
        client, project_id = self._client(sid), _project_id(data)
        if client is None:
            return failure("unauthorized")
        if project_id is None:
            return failure("invalid", "project_id must be a UUID")
        try:
            after = decode_cursor(data.get("cursor"))
        except ValueError:
            return failure("invalid", "cursor is not a cursor this server issued")
        async with self.hub.admitted():  # access, horizon and rows: one round trip
            async with transaction(self.hub.pool, client.actor(), readonly=True) as conn:
                visible, horizon, rows = await q.resync_rows(
                    conn, project_id, after, list(ROW_ACTIONS), REPLAYED_TABLES,
                    RESYNC_LIMIT + 1)
            if not visible:
                return failure(await self.hub.refusal(client, project_id))
        cursor = encode_cursor((horizon, 0))
        if len(rows) > RESYNC_LIMIT:
            return {"ok": True, "gap": True, "cursor": cursor}
        events = [e for e in (row_event(r, horizon, self.failures) for r in rows)
                  if e is not None]
        # Client users get the copies their sockets would have got (no internal costs, no
        # internal comments).
        payloads = (e.payload_for(client.is_staff) for e in events)
        return {"ok": True, "cursor": cursor, "events": [p for p in payloads if p is not None]}

    async def typing(self, sid: str, data: Any = None) -> Ack:
        """Relayed to the others in the project room; never stored."""
        client, project_id = self._client(sid), _project_id(data)
        if client is None:
            return failure("unauthorized")
        if project_id is None:
            return failure("invalid", "project_id must be a UUID")
        project = str(project_id)
        if project not in client.projects:
            return failure("forbidden", "subscribe to the project first")
        payload = {"project_id": project, "user": client.public(),
                   "active": bool(data.get("active", True))}
        for key in ("resource", "record_id", "field"):
            value = data.get(key)
            payload[key] = value[:200] if isinstance(value, str) else None
        await self.hub.sio.emit("typing", payload, to=project_room(project), skip_sid=sid)
        return {"ok": True}
