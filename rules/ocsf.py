"""Audit rows as OCSF events (schema 1.1): the JSON lines `GET /api/v1/audit/export` and
`formula-pm audit export` write for a SIEM (pure).

Three classes: Authentication (3002) for sign-in, sign-out and session events, Entity
Management (3004) for changes of users, their roles and project memberships, and API
Activity (6003) for everything else. Every event carries the ISO 27001 A.8.15 set: actor
(`actor.user.uid`), action (`activity_name`, `api.operation`), object (`entity` or
`resources`), time (`time`, epoch milliseconds), source address (`src_endpoint.ip`), user
agent (`http_request.user_agent`), request id (`api.request.uid`), outcome (`status`).
The audit id is `metadata.uid`; `unmapped.cursor` resumes the export after this event.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

OCSF_VERSION = "1.1.0"
PRODUCT = {"name": "Formula PM", "vendor_name": "Formula PM"}

AUTHENTICATION, ENTITY_MANAGEMENT, API_ACTIVITY = 3002, 3004, 6003
CLASS_NAMES = {AUTHENTICATION: "Authentication", ENTITY_MANAGEMENT: "Entity Management",
               API_ACTIVITY: "API Activity"}
CATEGORIES = {AUTHENTICATION: (3, "Identity & Access Management"),
              ENTITY_MANAGEMENT: (3, "Identity & Access Management"),
              API_ACTIVITY: (6, "Application Activity")}

# Authentication: (activity id, name, succeeded).
SIGN_IN_EVENTS: Mapping[str, tuple[int, str, bool]] = {
    "login": (1, "Logon", True),
    "login_failed": (1, "Logon", False),
    "logout": (2, "Logoff", True),
    "token_reuse": (99, "Other", False),
    "session_revoked": (2, "Logoff", True),
    "sessions_revoked": (2, "Logoff", True),
}
# Tables whose changes are the management of identities and permissions.
ENTITY_TABLES = frozenset({"users", "project_members"})
# Row changes and named events as OCSF create/read/update/delete.
ACTIVITIES: Mapping[str, tuple[int, str]] = {
    "insert": (1, "Create"), "update": (3, "Update"), "delete": (4, "Delete"),
    "audit_exported": (2, "Read"), "export": (2, "Read"), "download": (2, "Read"),
}
FAILED_ACTIONS = frozenset({"login_failed", "token_reuse", "backup_failed", "server_error"})


def event_class(action: str, table: str | None) -> int:
    if action in SIGN_IN_EVENTS:
        return AUTHENTICATION
    if table in ENTITY_TABLES and action in ("insert", "update", "delete"):
        return ENTITY_MANAGEMENT
    return API_ACTIVITY


def ocsf_event(row: Mapping[str, Any], cursor: str) -> dict[str, Any]:
    """One audit row (ids as text, `at_ms` epoch milliseconds, `details` a dict or None)
    as an OCSF event; `cursor` resumes after it."""
    action, table = str(row["action"]), row.get("table_name")
    class_uid = event_class(action, table)
    if class_uid == AUTHENTICATION:
        activity_id, activity, ok = SIGN_IN_EVENTS[action]
    else:
        activity_id, activity = ACTIVITIES.get(action, (99, "Other"))
        ok = action not in FAILED_ACTIONS
    category_uid, category = CATEGORIES[class_uid]
    event: dict[str, Any] = {
        "class_uid": class_uid, "class_name": CLASS_NAMES[class_uid],
        "category_uid": category_uid, "category_name": category,
        "activity_id": activity_id, "activity_name": activity,
        "type_uid": class_uid * 100 + activity_id,
        "time": int(row["at_ms"]), "severity_id": 1, "severity": "Informational",
        "status_id": 1 if ok else 2, "status": "Success" if ok else "Failure",
        "metadata": {"version": OCSF_VERSION, "product": PRODUCT, "uid": str(row["id"]),
                     "correlation_uid": row.get("request_id")},
        "actor": {"user": {"uid": row.get("user_id")}},
        "src_endpoint": {"ip": row.get("ip")},
        "http_request": {"user_agent": row.get("user_agent")},
        "api": {"operation": action, "request": {"uid": row.get("request_id")}},
        "unmapped": {"cursor": cursor, "org_id": row.get("org_id"),
                     "project_id": row.get("project_id"),
                     "changed_fields": row.get("changed_fields"),
                     "details": row.get("details"), "bulk": bool(row.get("bulk"))},
    }
    target = {"type": table, "uid": row.get("record_id")} if table else None
    if class_uid == AUTHENTICATION:
        event["user"] = {"uid": row.get("user_id")}
        event["is_mfa"] = False
    elif class_uid == ENTITY_MANAGEMENT:
        event["entity"] = target
    elif target is not None:
        event["resources"] = [target]
    return event


def ocsf_line(row: Mapping[str, Any], cursor: str) -> bytes:
    """The event of a row read by the export query (details as JSON text) as one line."""
    record = dict(row)
    details = record.get("details")
    if isinstance(details, str):
        record["details"] = json.loads(details)
    return json.dumps(ocsf_event(record, cursor), separators=(",", ":"), ensure_ascii=False,
                      default=str).encode() + b"\n"
