"""What client users may see: the firm's internal costs and internal comments are not for
them (pure rules, shared by REST, cached reads, events, resync, search and the audit trail).

Staff see everything of the projects they can open. A client user (role `client`) sees the
same records without the internal cost fields below, and only the comments marked `shared`.
Comment visibility is also enforced by row-level security (migration 0015: comments,
their mentions and the attachments of comments), so no query hands a client user an
internal comment; cost fields are columns, which RLS cannot hide, so they are taken out
of every answer here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, TypeVar

CLIENT_ROLE = "client"
# A comment is `internal` (staff only) or `shared` (the project's client users too).
INTERNAL, SHARED = "internal", "shared"
COMMENT_VISIBILITIES = (INTERNAL, SHARED)

# Internal cost fields by table (and by the project_summary view, whose money figures are
# all derived from them). The one list every channel strips for client users.
INTERNAL_COST_FIELDS: Mapping[str, frozenset[str]] = MappingProxyType({
    "projects": frozenset({"budget"}),
    "scope_items": frozenset({"unit_price", "total_price"}),
    "material_specs": frozenset({"unit_cost", "total_cost"}),
    "project_summary": frozenset({"budget", "scope_value", "committed_material_cost",
                                  "budget_remaining"}),
})

V = TypeVar("V")


def is_client(role: str) -> bool:
    return role == CLIENT_ROLE


def internal_fields(table: str) -> frozenset[str]:
    return INTERNAL_COST_FIELDS.get(table, frozenset())


def without_internal(table: str, values: Mapping[str, V]) -> dict[str, V]:
    """The record without the table's internal cost fields."""
    hidden = internal_fields(table)
    return {k: v for k, v in values.items() if k not in hidden}


def comment_is_shared(values: Mapping[str, Any] | None) -> bool:
    """A comment (as a row or its audit values) that client users may read."""
    return values is not None and values.get("visibility") == SHARED


def comment_visibility(role: str, requested: str | None) -> str:
    """The visibility a new comment gets: client users always write `shared` comments;
    staff choose, and write `internal` ones unless they say otherwise."""
    if is_client(role):
        return SHARED
    return requested or INTERNAL


def audit_row_for_client(table: str | None, row: Mapping[str, Any]) -> dict[str, Any] | None:
    """An audit row as a client user may read it: cost fields out of the values and of
    changed_fields; nothing at all for an internal comment (before or after the change)
    nor for mentions and the attachments of comments and review tasks, whose comment or
    task it cannot tell apart."""
    if table == "comments" and not all(
            comment_is_shared(row[k]) for k in ("old_values", "new_values")
            if row.get(k) is not None):
        return None
    if table in ("mentions", "site_diaries") or (table == "attachments" and any(
            (row.get(k) or {}).get("entity_type") in ("comment", "site_diary", "review_task")
            for k in ("old_values", "new_values"))):
        return None
    hidden = internal_fields(table or "")
    if not hidden:
        return dict(row)
    changed = row.get("changed_fields")
    if changed and set(changed) <= hidden:
        return None  # only internal costs changed: nothing the client may see
    out = dict(row)
    for key in ("old_values", "new_values"):
        if out.get(key) is not None:
            out[key] = without_internal(table or "", out[key])
    if out.get("changed_fields") is not None:
        out["changed_fields"] = [f for f in out["changed_fields"] if f not in hidden]
    return out
