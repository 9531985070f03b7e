"""A notification preference is its owner's alone: its event goes to the owner's room, never
to the project's, and is never replayed by a project resync."""

from __future__ import annotations

import datetime as dt
import uuid

from realtime.feed.events import event_from_audit
from realtime.hub.handlers import REPLAYED_TABLES

ORG, PROJECT, RECORD, USER, OWNER = (uuid.uuid4() for _ in range(5))


def test_a_preference_goes_to_its_owner_only() -> None:
    values = {"id": str(RECORD), "org_id": str(ORG), "user_id": str(OWNER),
              "project_id": str(PROJECT), "kind": "mention", "channel": "email", "version": 1}
    row = {"id": 7, "txid": 900, "org_id": ORG, "project_id": PROJECT,
           "table_name": "notification_preferences", "record_id": RECORD, "action": "insert",
           "old_values": None, "new_values": values, "changed_fields": None, "user_id": USER,
           "request_id": "r", "origin_sid": None, "at": dt.datetime.now(dt.UTC)}
    event = event_from_audit(row, (900, 7))
    assert event is not None and event.name == "notification_preference"
    assert event.rooms == (f"user:{OWNER}",)
    assert event.payload["channel"] == "email"
    assert event_from_audit({**row, "action": "delete", "new_values": None,
                             "old_values": values}, (900, 8)) is None
    assert "notification_preferences" not in REPLAYED_TABLES
