"""Client -> server events (subscribe, unsubscribe, resync, typing), each answered by ack.

Every event a client sends is answered: what a handler cannot use with `invalid`, an
event this API does not have with `unknown_event` (events with reserved names never get
here: see realtime.hub.socketio_ext.protocol), and a failure of the server itself with `internal`.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from db.cursor_codec import decode_feed_cursor, encode_feed_cursor
from db.pool import transaction
from db.queries import changes as q
from db.tables import ORG_TABLES, PROJECT_TABLES
from realtime.feed.events import ROW_ACTIONS, audience_room, project_room
from realtime.feed.rows import RowFailures, row_event
from realtime.hub.acks import Ack, failure, unknown_event
from realtime.hub.clients import Client
from realtime.hub.hub import DATABASE_AWAY, Hub
from realtime.hub.limits import MAX_SUBSCRIPTIONS

log = logging.getLogger("formula_pm.realtime.handlers")
RESYNC_LIMIT = 1000
# Every table with events but a user's own (notifications go to their recipient only).
REPLAYED_TABLES = sorted(ORG_TABLES | PROJECT_TABLES)
TYPING_FIELDS = ("resource", "record_id", "field")
Handler = Callable[[str, Any], Awaitable[Ack]]

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
        self.handlers: dict[str, Handler] = {
            "subscribe": self.subscribe, "unsubscribe": self.unsubscribe,
            "resync": self.resync, "typing": self.typing}
        for name, handler in self.handlers.items():
            hub.sio.on(name, self._limited(name, handler))
        hub.sio.on("*", self._unknown)  # every other (unreserved) name

    def _limited(self, name: str, handler: Handler) -> Callable[..., Awaitable[Ack]]:
        async def limited(sid: str, *args: Any) -> Ack:
            return await self._serve(sid, name, handler, args)

        return limited

    async def _unknown(self, event: str, sid: str, *args: Any) -> Ack:
        async def answer(sid: str, data: Any) -> Ack:
            return unknown_event(event)

        return await self._serve(sid, "unknown", answer, ())

    async def _serve(self, sid: str, name: str, handler: Handler, args: tuple[Any, ...]
                     ) -> Ack:
        """Every client event spends a token of its socket (a flood is disconnected) and is
        always answered: while the database is away with `unavailable`, and on a failure
        of the server itself with `internal` (logged: that one is a bug)."""
        client = self._client(sid)
        if client is not None and not client.bucket.take(time.monotonic()):
            if client.bucket.flooding:
                await self.hub.sio.disconnect(sid)
            return failure("rate_limited", "too many events; slow down")
        if len(args) > 1:
            return failure("invalid", "send one payload object")
        try:
            return await handler(sid, args[0] if args else None)
        except DATABASE_AWAY as exc:  # the client retries, as after a REST 503
            log.warning("socket event while the database is unavailable: %s", exc)
            return failure("unavailable", "the database is unavailable; try again shortly")
        except Exception:
            log.exception("socket event %r failed", name)
            return failure("internal", "the server failed to handle the event")

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
        return {"ok": True, "cursor": encode_feed_cursor((horizon, 0))}

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
            after = decode_feed_cursor(data.get("cursor"))
        except ValueError:
            return failure("invalid", "cursor is not a cursor this server issued")
        async with self.hub.admitted():  # access, horizon and rows: one round trip
            async with transaction(self.hub.pool, client.actor(), readonly=True) as conn:
                visible, horizon, rows = await q.resync_rows(
                    conn, project_id, after, list(ROW_ACTIONS), REPLAYED_TABLES,
                    RESYNC_LIMIT + 1)
            if not visible:
                return failure(await self.hub.refusal(client, project_id))
        cursor = encode_feed_cursor((horizon, 0))
        if len(rows) > RESYNC_LIMIT:
            return {"ok": True, "gap": True, "cursor": cursor}
        events = [e for e in (row_event(r, horizon, self.failures) for r in rows)
                  if e is not None]
        # Client users get the copies their sockets would have got (no internal costs, no
        # internal comments).
        payloads = (e.payload_for(client.is_staff) for e in events)
        return {"ok": True, "cursor": cursor, "events": [p for p in payloads if p is not None]}

    async def typing(self, sid: str, data: Any = None) -> Ack:
        """Relayed to the others who may see it (staff's typing to staff only); never
        stored."""
        client, project_id = self._client(sid), _project_id(data)
        if client is None:
            return failure("unauthorized")
        if project_id is None:
            return failure("invalid", "project_id must be a UUID")
        project = str(project_id)
        if project not in client.projects:
            return failure("forbidden", "subscribe to the project first")
        active = data.get("active", True)
        if not isinstance(active, bool):
            return failure("invalid", "active must be true or false")
        payload: dict[str, Any] = {"project_id": project, "user": client.public(),
                                   "active": active}
        for key in TYPING_FIELDS:
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                return failure("invalid", f"{key} must be a string")
            payload[key] = value[:200] if value is not None else None
        # Staff may be typing an internal comment: client users are not told (of what, or
        # that anything is being written); what a client user types, everyone may see.
        room = audience_room(project, True) if client.is_staff else project_room(project)
        await self.hub.sio.emit("typing", payload, to=room, skip_sid=sid)
        return {"ok": True}
