"""Pure parts of the real-time layer: event mapping, rooms, cursors, snapshots."""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from decimal import Decimal
from typing import Any

import pytest

from db.cursor_codec import decode_feed_cursor, encode_feed_cursor
from realtime.feed.cursor import ReadPosition, Snapshot, cursor_after
from realtime.feed.events import (
    bare_event,
    event_from_audit,
    is_bulk,
    jsonable,
    may_change_visibility,
)
from realtime.feed.rows import MAX_VALUES_DEPTH, RowFailures, audit_event, row_event
from realtime.hub.presence import unique_users

ORG, PROJECT, RECORD, USER = (uuid.uuid4() for _ in range(4))
AT = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def row(table: str = "tasks", action: str = "update", **kw: Any) -> dict[str, Any]:
    values = {"id": str(RECORD), "org_id": str(ORG), "project_id": str(PROJECT),
              "name": "Install millwork", "version": 3, "search_vector": "'x':1",
              "updated_at": "2026-01-02T03:04:05+00:00", "budget": Decimal("12500.00")}
    base: dict[str, Any] = {
        "id": 42, "txid": 900, "org_id": ORG, "project_id": PROJECT, "table_name": table,
        "record_id": RECORD, "action": action, "old_values": dict(values, version=2),
        "new_values": None if action == "delete" else values, "changed_fields": ["name"],
        "user_id": USER, "request_id": "req-1", "origin_sid": "sid-1", "at": AT,
    }
    base.update(kw)
    return base


def test_update_maps_to_resource_action_and_payload() -> None:
    event = event_from_audit(row(), (900, 42))
    assert event is not None
    assert event.name == "task.updated"
    assert event.rooms == (f"project:{PROJECT}",)
    p = event.payload
    assert set(p) == {"id", "cursor", "resource", "action", "record_id", "project_id",
                      "version", "data", "changed_fields", "actor_id", "at", "request_id"}
    assert p["id"] == 42 and p["resource"] == "task" and p["action"] == "updated"
    assert p["record_id"] == str(RECORD) and p["project_id"] == str(PROJECT)
    assert p["version"] == 3 and p["changed_fields"] == ["name"]
    assert p["actor_id"] == str(USER) and p["at"] == AT.isoformat()
    assert p["data"]["budget"] == "12500.00" and "search_vector" not in p["data"]
    assert decode_feed_cursor(p["cursor"]) == (900, 42)
    assert event.origin_sid == "sid-1"


def test_insert_and_delete() -> None:
    created = event_from_audit(row(action="insert", changed_fields=None), (1, 1))
    assert created is not None and created.name == "task.created"
    assert created.payload["changed_fields"] is None
    deleted = event_from_audit(row(action="delete", changed_fields=None), (1, 1))
    assert deleted is not None and deleted.name == "task.deleted"
    assert deleted.payload["data"] is None and deleted.payload["version"] == 2


@pytest.mark.parametrize(("table", "resource"), [
    ("scope_items", "scope_item"), ("shop_drawing_revisions", "shop_drawing_revision"),
    ("material_specs", "material_spec"), ("item_links", "item_link"),
    ("comments", "comment"), ("mentions", "mention"), ("attachments", "attachment"),
])
def test_resource_is_singular_of_table(table: str, resource: str) -> None:
    event = event_from_audit(row(table=table, action="insert"), (1, 1))
    assert event is not None and event.name == f"{resource}.created"


def test_org_wide_rows_go_to_the_org_room_without_secrets() -> None:
    values = {"id": str(USER), "org_id": str(ORG), "email": "a@b.c",
              "password_hash": "[redacted]", "version": 1}
    event = event_from_audit(row(table="users", action="insert", project_id=None,
                                 new_values=values), (1, 1))
    assert event is not None and event.name == "user.created"
    assert event.rooms == (f"org:{ORG}",)
    assert "password_hash" not in event.payload["data"]
    org = event_from_audit(row(table="organizations", project_id=None, record_id=ORG,
                               org_id=ORG), (1, 1))
    assert org is not None and org.rooms == (f"org:{ORG}",)


def test_notifications_only_to_their_recipient() -> None:
    values = {"id": str(RECORD), "user_id": str(USER), "project_id": str(PROJECT),
              "title": "You were mentioned", "version": 1}
    event = event_from_audit(row(table="notifications", action="insert",
                                 new_values=values), (1, 1))
    assert event is not None and event.name == "notification"
    assert event.rooms == (f"user:{USER}",)
    assert event.payload["title"] == "You were mentioned"
    assert event_from_audit(row(table="notifications", action="delete",
                                old_values=values), (1, 1)) is None


def test_membership_goes_to_the_member_too_and_triggers_recheck() -> None:
    member = uuid.uuid4()
    values = {"id": str(RECORD), "project_id": str(PROJECT), "user_id": str(member),
              "version": 1}
    removed = event_from_audit(row(table="project_members", action="delete",
                                   old_values=values), (1, 1))
    assert removed is not None and removed.name == "project_member.deleted"
    assert removed.rooms == (f"project:{PROJECT}", f"user:{member}")
    assert removed.member_id == str(member) and may_change_visibility(removed)
    added = event_from_audit(row(table="project_members", action="insert",
                                 new_values=values), (1, 1))
    assert added is not None and not may_change_visibility(added)
    moved = event_from_audit(row(table="projects", changed_fields=["client_id"]), (1, 1))
    assert moved is not None and may_change_visibility(moved)


def test_user_and_system_events_are_not_broadcast() -> None:
    assert event_from_audit(row(action="login"), (1, 1)) is None
    assert event_from_audit(row(table="leader_change", action="leader_change"), (1, 1)) is None
    assert event_from_audit(row(table="user_sessions"), (1, 1)) is None


def test_audit_event_parses_text_columns_exactly() -> None:
    record = row(new_values='{"id": "x", "budget": 12500.00, "version": 2}',
                 old_values=None, txid=5)
    event = audit_event(record, xmin=10)
    assert event is not None
    assert event.payload["data"]["budget"] == "12500.00"
    assert decode_feed_cursor(event.payload["cursor"]) == (5, 42)


def test_cursor_round_trip_and_rejects_garbage() -> None:
    assert decode_feed_cursor(encode_feed_cursor((123456789012, 77))) == (123456789012, 77)
    for bad in ("", "nope", "Yzk6MToy", 12, None, "x" * 200):
        with pytest.raises(ValueError):
            decode_feed_cursor(bad)


def test_cursor_after_stays_below_running_transactions() -> None:
    assert cursor_after(txid=5, audit_id=9, xmin=10) == (5, 9)
    assert cursor_after(txid=12, audit_id=9, xmin=10) == (10, 0)


def test_read_position_follows_snapshots() -> None:
    snap = Snapshot.parse("100:105:101,103")
    assert snap == Snapshot(100, 105, (101, 103))
    assert Snapshot.parse("7:7:") == Snapshot(7, 7, ())
    position = ReadPosition.from_horizon(50).after(snap)
    assert position == ReadPosition(xmax=105, xip=(101, 103))


def test_jsonable_and_presence_dedupe() -> None:
    assert [jsonable(v) for v in (uuid.UUID(int=1), Decimal("1.50"), dt.date(2026, 1, 2))] == [
        str(uuid.UUID(int=1)), "1.50", "2026-01-02"]
    nested = {"a": [{"b": 1}]}
    assert jsonable(nested) is nested  # parsed JSON already: never walked again
    users = [{"id": "2", "first_name": "B"}, {"id": "1", "first_name": "A"},
             {"id": "2", "first_name": "B"}]
    assert unique_users(users) == [{"id": "1", "first_name": "A"},
                                   {"id": "2", "first_name": "B"}]


def test_bulk_import_rows_collapse_into_one_import_event() -> None:
    cursor = (900, 42)
    imported = event_from_audit(row(request_id="import-legacy:abc", bulk=True), cursor)
    assert imported is not None and is_bulk(imported)
    ordinary = event_from_audit(row(), cursor)
    assert ordinary is not None and not is_bulk(ordinary)
    # The request id is the client's to choose: it never makes a row bulk.
    spoofed = event_from_audit(row(request_id="import-legacy:x", bulk=False), cursor)
    assert spoofed is not None and not is_bulk(spoofed)
    summary = event_from_audit(row(table=None, action="import", record_id=None,
                                   new_values=None, old_values=None,
                                   request_id="import-legacy:abc", bulk=True,
                                   details={"tasks": {"created": 37}}), cursor)
    assert summary is not None and not is_bulk(summary)
    assert summary.name == "import.completed" and summary.rooms == (f"org:{ORG}",)
    assert summary.payload["details"] == {"tasks": {"created": 37}}


def deep_text(levels: int) -> str:
    return '{"id": "x", "version": 4, "spec": ' + "[" * levels + "1" + "]" * levels + "}"


def test_deep_values_are_sent_as_parsed_json_without_any_walk() -> None:
    record = row(table="material_specs", action="update", txid=5, old_values=None,
                 new_values=deep_text(MAX_VALUES_DEPTH - 1).replace("1]", "1.50]", 1))
    event = audit_event(record, xmin=10)
    assert event is not None
    spec = event.payload["data"]["spec"]
    for _ in range(MAX_VALUES_DEPTH - 2):
        spec = spec[0]
    assert spec == ["1.50"]  # a nested decimal keeps its exact text, as a string
    json.dumps(event.payload)  # what the emitter does: JSON types only, and shallow


@pytest.mark.parametrize("levels", [MAX_VALUES_DEPTH, 500, 100_000])
def test_a_poisoned_row_becomes_a_bare_event_and_is_counted(levels: int) -> None:
    failures = RowFailures("test")
    record = row(table="material_specs", action="update", txid=5, new_values=deep_text(levels),
                 old_values=deep_text(levels), details=None)
    with pytest.raises(ValueError):
        audit_event(record, xmin=10)
    event = row_event(record, 10, failures)
    assert failures.count == 1
    assert event is not None and event.name == "material_spec.updated"
    assert event.rooms == (f"project:{PROJECT}",) and event.record_id == str(RECORD)
    p = event.payload
    assert p["data"] is None and p["version"] is None and p["data_omitted"] is True
    assert p["id"] == 42 and decode_feed_cursor(p["cursor"]) == (5, 42)
    assert p["changed_fields"] == ["name"] and p["actor_id"] == str(USER)
    assert len(json.dumps(p)) < 1000


def test_bare_events_only_where_a_room_is_known_without_values() -> None:
    cursor = (1, 1)
    org_wide = bare_event(row(table="users", project_id=None, new_values=None), cursor)
    assert org_wide is not None and org_wide.rooms == (f"org:{ORG}",)
    assert org_wide.name == "user.updated"
    imported = bare_event(row(table=None, action="import", record_id=None), cursor)
    assert imported is not None and imported.name == "import.completed"
    assert imported.table == "" and imported.payload["data_omitted"] is True
    bulk = bare_event(row(request_id="import-legacy:x", bulk=True), cursor)
    assert bulk is not None and is_bulk(bulk)  # still summed up, not sent one by one
    moved = bare_event(row(table="projects", changed_fields=["client_id"]), cursor)
    assert moved is not None and may_change_visibility(moved)
    for nothing in (row(table="notifications", action="insert"), row(action="login"),
                    row(table="leader_change", action="leader_change"),
                    row(project_id=None)):
        assert bare_event(nothing, cursor) is None


def test_row_failures_log_one_line_per_period_with_the_count(
        caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    failures = RowFailures("test", every=60, clock=lambda: now[0])
    record = row(new_values=deep_text(1000), txid=1)
    with caplog.at_level(logging.ERROR, logger="formula_pm.realtime.feed"):
        for second in range(0, 130):
            now[0] = float(second)
            row_event(record, 10, failures)
    assert failures.count == 130
    lines = [r for r in caplog.records if r.name == "formula_pm.realtime.feed"]
    assert len(lines) == 3  # at 0, 60 and 120 s
    assert all(r.exc_info is None for r in lines)
    assert "60 audit row(s)" in lines[1].getMessage()
    assert "id 42" in lines[1].getMessage() and "TooDeep" in lines[1].getMessage()


def test_a_row_that_cannot_even_be_bare_is_counted_and_skipped() -> None:
    failures = RowFailures("test")
    broken = row(new_values="{not json", txid=1)
    del broken["table_name"]
    assert row_event(broken, 10, failures) is None and failures.count == 1


def test_packet_json_refuses_deep_payloads_before_parsing() -> None:
    from realtime.hub.socketio_ext import packet_json

    assert packet_json.loads('["subscribe", {"project_id": "x"}]') == [
        "subscribe", {"project_id": "x"}]
    for text in ("[" * 100_000, '["typing", ' + "{" * 5000):
        with pytest.raises(ValueError):  # what Engine.IO and Socket.IO expect of bad JSON
            packet_json.loads(text)
    with pytest.raises(ValueError):  # Engine.IO's own bound on integers is kept
        packet_json.loads("1" * 200)
    assert packet_json.dumps({"a": 1}, separators=(",", ":")) == '{"a":1}'


def test_rechecks_are_one_per_project_and_kind() -> None:
    from realtime.feed.events import rechecks

    moved = [event_from_audit(row(table="projects", record_id=PROJECT, id=n,
                                  changed_fields=["client_id"]), (900, n)) for n in (1, 2)]
    renamed = event_from_audit(row(table="projects", record_id=PROJECT), (900, 3))
    events = [e for e in (*moved, renamed) if e is not None]
    assert rechecks(events) == [{"kind": "recheck", "project_id": str(PROJECT),
                                 "user_id": None, "deleted": False}]
