"""Audit rows -> Socket.IO events: names, rooms and payloads (pure functions)."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from db.committed import Change
from db.cursor_codec import Cursor, encode_feed_cursor
from db.tables import ORG_TABLES, PROJECT_TABLES, RESOURCES, USER_TABLES
from realtime.feed.audience import SAME, ClientCopy, client_copy

ACTIONS: Mapping[str, str] = {"insert": "created", "update": "updated", "delete": "deleted"}
ROW_ACTIONS = tuple(ACTIONS)
SOFT_DELETE = "deleted_at"  # the column whose setting deletes a row for its readers
# Never sent to a socket, whatever the audit row holds.
HIDDEN_FIELDS = frozenset({"search_vector", "password_hash"})
# A change to one of these can take a project away from someone: re-check subscribers.
VISIBILITY_FIELDS = frozenset({"client_id", "project_manager_id", "created_by", "org_id"})


def project_room(project_id: object) -> str:
    """Everyone watching the project: presence, typing, and events that all may read."""
    return f"project:{project_id}"


def audience_room(project_id: object, staff: bool) -> str:
    """The project's staff or its client users (each watcher is in one of the two as well
    as in the project room): events whose client copy differs go to these."""
    return f"project:{project_id}:{'staff' if staff else 'client'}"


def user_room(user_id: object) -> str:
    return f"user:{user_id}"


def org_room(org_id: object) -> str:
    return f"org:{org_id}"


def jsonable(value: Any) -> Any:
    """A column value as JSON: UUID and Decimal as strings, datetimes in ISO-8601.

    Not recursive on purpose: nested values come parsed from JSON text (the feed reads the
    audit columns as text), so they hold nothing but JSON types already, and walking them
    again would recurse as deep as whatever a user managed to store.
    """
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return value


def visible_data(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The record as a socket may see it: no search vector, no secret of any kind."""
    if values is None:
        return None
    return {k: jsonable(v) for k, v in values.items()
            if k not in HIDDEN_FIELDS and "password" not in k}


@dataclass(frozen=True)
class Event:
    """One message to emit: its name, the rooms it goes to, and what it says."""

    name: str
    rooms: tuple[str, ...]
    payload: dict[str, Any]
    table: str
    action: str
    audit_id: int
    project_id: str | None = None
    record_id: str | None = None
    origin_sid: str | None = None
    member_id: str | None = None
    changed_fields: tuple[str, ...] = field(default=())
    org_id: str | None = None
    request_id: str | None = None
    bulk: bool = False
    # What client users' sockets get (realtime/feed/audience.py): this event, their own copy, or
    # nothing.
    client: ClientCopy = SAME

    def deliveries(self) -> list[tuple[str, dict[str, Any], tuple[str, ...]]]:
        """(name, payload, rooms) to emit: one when everyone gets the same event, else the
        staff event to the staff room and the client copy (if any) to the client room."""
        if self.client == SAME or self.project_id is None:
            return [(self.name, self.payload, self.rooms)]
        room = project_room(self.project_id)
        staff = tuple(audience_room(self.project_id, True) if r == room else r
                      for r in self.rooms)
        out = [(self.name, self.payload, staff)]
        if self.client is not None:
            name, payload = self.client
            out.append((name, payload, (audience_room(self.project_id, False),)))
        return out

    def change(self) -> Change:
        """What the event's audit row changed, as a writer's transaction reports it too."""
        return Change(self.table, self.record_id, self.project_id, self.org_id)

    def payload_for(self, staff: bool) -> dict[str, Any] | None:
        """The payload a staff member or a client user may receive (None: nothing)."""
        if staff or self.client == SAME:
            return self.payload
        return None if self.client is None else self.client[1]


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _rooms(table: str, row: Mapping[str, Any], values: Mapping[str, Any]) -> tuple[str, ...]:
    if table in ORG_TABLES:
        org = row["record_id"] if table == "organizations" else row["org_id"]
        return (org_room(org),)
    if table in USER_TABLES:
        return (user_room(values["user_id"]),)
    rooms = [project_room(row["project_id"])]
    if table == "project_members":
        rooms.append(user_room(values["user_id"]))
    return tuple(rooms)


def _verb(action: str, changed: tuple[str, ...], values: Mapping[str, Any]) -> str:
    """`created`, `updated` or `deleted`; a soft delete (an update that sets `deleted_at`,
    as attachments are deleted before the sweep removes their rows) is `deleted`."""
    if action == "update" and SOFT_DELETE in changed and values.get(SOFT_DELETE) is not None:
        return "deleted"
    return ACTIONS[action]


def event_from_audit(row: Mapping[str, Any], cursor: Cursor) -> Event | None:
    """The event an audit row stands for, or None (user/system events, notification
    deletes, rows without a room)."""
    table, action = row["table_name"], row["action"]
    if action == "import" and row["org_id"] is not None:
        return _import_event(row, cursor)
    if table not in RESOURCES or action not in ACTIONS:
        return None
    values = row["new_values"] if action != "delete" else row["old_values"]
    if values is None or (table in USER_TABLES and action == "delete"):
        return None
    if table in PROJECT_TABLES and row["project_id"] is None:
        return None
    data = visible_data(row["new_values"]) if action != "delete" else None
    resource = RESOURCES[table]
    changed = tuple(row["changed_fields"] or ())
    verb = _verb(action, changed, values)
    payload: dict[str, Any] = {
        "id": row["id"], "cursor": encode_feed_cursor(cursor), "resource": resource,
        "action": verb, "record_id": _text(row["record_id"]),
        "project_id": _text(row["project_id"]), "version": values.get("version"),
        "data": data, "changed_fields": list(changed) if row["changed_fields"] else None,
        "actor_id": _text(row["user_id"]), "at": jsonable(row["at"]),
        "request_id": row["request_id"],
    }
    # A user's own record (a notification) is sent as itself, named by its resource alone.
    name = resource if table in USER_TABLES else f"{resource}.{verb}"
    if table in USER_TABLES:
        payload = data or {}
    client = SAME if table not in PROJECT_TABLES else client_copy(
        table, action, row["old_values"], row["new_values"], name, payload)
    return Event(
        name=name, rooms=_rooms(table, row, values), payload=payload, table=table,
        action=action, audit_id=row["id"], project_id=_text(row["project_id"]),
        record_id=_text(row["record_id"]), origin_sid=row["origin_sid"],
        member_id=_text(values.get("user_id")) if table == "project_members" else None,
        changed_fields=changed, org_id=_text(row["org_id"]), request_id=row["request_id"],
        bulk=bool(row.get("bulk")),
        client=client,
    )


def is_bulk(event: Event) -> bool:
    """A row of a bulk import: caches are invalidated and visibility re-checked, but clients
    get one summary event. Decided by the audit row's `bulk` column, which only the
    server's importer sets (a transaction-local setting): never by anything a client sends,
    such as its request id."""
    return event.bulk and event.table != ""


def _import_event(row: Mapping[str, Any], cursor: Cursor) -> Event:
    """`import.completed` to the organisation: refetch instead of thousands of row events."""
    payload = {
        "id": row["id"], "cursor": encode_feed_cursor(cursor), "resource": "import",
        "action": "completed", "details": jsonable(row.get("details")),
        "actor_id": _text(row["user_id"]), "at": jsonable(row["at"]),
        "request_id": row["request_id"],
    }
    return Event(name="import.completed", rooms=(org_room(row["org_id"]),), payload=payload,
                 table="", action="import", audit_id=row["id"], org_id=_text(row["org_id"]),
                 request_id=row["request_id"])


def bare_event(row: Mapping[str, Any], cursor: Cursor) -> Event | None:
    """The event of a row whose values cannot be sent (nested too deep, say): who changed
    which record, from the row's own columns only, with `data` null and `data_omitted`
    true so that clients refetch the record. None when the row has no room without its
    values (notifications, user and system events)."""
    table, action = row["table_name"], row["action"]
    import_row = action == "import" and row["org_id"] is not None
    if not import_row and (table not in RESOURCES or action not in ACTIONS
                           or table in USER_TABLES):
        return None
    if table in ORG_TABLES or import_row:
        org = row["record_id"] if table == "organizations" else row["org_id"]
        rooms = (org_room(org),) if org is not None else ()
    else:
        rooms = (project_room(row["project_id"]),) if row["project_id"] is not None else ()
    if not rooms:
        return None
    resource = "import" if import_row else RESOURCES[table]
    verb = "completed" if import_row else ACTIONS[action]
    changed = tuple(str(f) for f in row["changed_fields"] or ())
    payload: dict[str, Any] = {
        "id": row["id"], "cursor": encode_feed_cursor(cursor), "resource": resource,
        "action": verb, "record_id": _text(row["record_id"]),
        "project_id": _text(row["project_id"]), "version": None, "data": None,
        "changed_fields": list(changed) or None, "actor_id": _text(row["user_id"]),
        "at": jsonable(row["at"]), "request_id": _text(row["request_id"]),
        "data_omitted": True,
    }
    name = f"{resource}.{verb}"
    # Without values, an internal comment cannot be told from a shared one: not for clients.
    client = SAME if table in ORG_TABLES or import_row else client_copy(
        table, action, None, None, name, payload)
    return Event(
        name=name, rooms=rooms, payload=payload,
        table="" if import_row else table, action=action, audit_id=row["id"],
        project_id=_text(row["project_id"]), record_id=_text(row["record_id"]),
        origin_sid=_text(row["origin_sid"]), changed_fields=changed,
        org_id=_text(row["org_id"]), request_id=_text(row["request_id"]),
        bulk=bool(row.get("bulk")), client=client,
    )


def rechecks(events: list[Event]) -> list[dict[str, Any]]:
    """The visibility re-checks the events call for, in order, each once (a bulk import
    changing a thousand rows of a project re-checks its subscribers once)."""
    found: dict[tuple[str, str | None, bool], None] = {}
    for event in events:
        if may_change_visibility(event) and event.project_id:
            deleted = event.table == "projects" and event.action == "delete"
            found[(event.project_id, event.member_id, deleted)] = None
    return [{"kind": "recheck", "project_id": project, "user_id": member, "deleted": deleted}
            for project, member, deleted in found]


def may_change_visibility(event: Event) -> bool:
    """Whether subscribers of the event's project must be re-checked after it."""
    if event.table == "project_members":
        return event.action == "delete"
    if event.table == "projects":
        return event.action == "delete" or bool(VISIBILITY_FIELDS & set(event.changed_fields))
    return False
