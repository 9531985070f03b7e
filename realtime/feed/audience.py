"""The copy of a change event that client users' sockets receive (pure functions).

The leader turns one audit row into one event for a project room. Staff get it whole;
client users get it without internal cost fields, and get nothing of an internal comment
(db/audience.py says what is internal). `client_copy` decides, once per row on the
leader, and resync applies the same decision to the rows it replays.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from db.audience import comment_is_shared, internal_fields

SAME: Literal["same"] = "same"
# The drawing register's tables client users see a row of only once it is published, and
# the column that says so.
PUBLISHED_ONLY = {"drawings": "current_revision_id", "drawing_revisions": "published_at"}
# What client users get: the staff event itself, their own (name, payload), or nothing.
ClientCopy = Literal["same"] | tuple[str, dict[str, Any]] | None


def client_copy(table: str, action: str, old: Mapping[str, Any] | None,
                new: Mapping[str, Any] | None, name: str,
                payload: dict[str, Any]) -> ClientCopy:
    """The event of a change to `table` as client users may see it."""
    if table == "comments":
        return _comment(action, old, new, payload)
    if table == "mentions":
        return None  # a mention row cannot tell whether its comment is internal
    if table == "attachments":  # of a comment, a drawing revision (which may be
        # unpublished), a punch item (which a client user may not read), a review task
        # (perhaps another reviewer's), or unknown (no values): not for clients
        values = new if new is not None else old
        kept = values is not None and values.get("entity_type") not in (
            "comment", "drawing_revision", "site_diary", "punch_item", "review_task")
        return SAME if kept else None
    if table in PUBLISHED_ONLY:  # client users read published drawings and revisions only
        values = new if new is not None else old
        marker = PUBLISHED_ONLY[table]
        return SAME if values is not None and values.get(marker) is not None else None
    if table in ("transmittals", "transmittal_recipients", "site_diaries"):
        return None  # staff's register; a client recipient hears through their notification
    if table in ("review_templates", "reviews", "review_tasks", "rfis", "rfi_responses",
                 "punch_items"):
        # Staff's: client users read only the tasks, RFIs and snags addressed to them
        # (row-level security), which a project room's copy cannot tell apart.
        return None
    hidden = internal_fields(table)
    if not hidden:
        return SAME
    changed = payload.get("changed_fields")
    if changed and set(changed) <= hidden:
        return None  # only internal costs changed: nothing the client may see did
    stripped = dict(payload)
    if stripped.get("data") is not None:
        stripped["data"] = {k: v for k, v in stripped["data"].items() if k not in hidden}
    if changed is not None:
        stripped["changed_fields"] = [f for f in changed if f not in hidden]
    return name, stripped


def _comment(action: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None,
             payload: dict[str, Any]) -> ClientCopy:
    """Shared comments as they are; internal ones not at all; a comment that changes
    visibility appears to client users as created (now shared) or deleted (now internal)."""
    if action != "update":
        return SAME if comment_is_shared(new if action == "insert" else old) else None
    after = comment_is_shared(new)
    # Old values that do not name the visibility (an audit trail of changed fields only)
    # mean it did not change.
    before = comment_is_shared(old) if old is not None and "visibility" in old else after
    if before == after:
        return SAME if after else None
    resource = payload["resource"]
    if after:
        return f"{resource}.created", {**payload, "action": "created", "changed_fields": None}
    return f"{resource}.deleted", {**payload, "action": "deleted", "data": None,
                                   "changed_fields": None}
