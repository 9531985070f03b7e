"""What each table is, declared once: its kind, its event resource, and whether its records
are cached or searchable. Everything that sorts tables (events, rooms, cache keys, the read
rule of cached records, the audit trail) derives its sets from here.

Kinds, and what they mean for row-level security and the change feed:
- `org`: a record of the organisation as a whole (the organisation, its clients, its
  users). RLS by organisation (client users: their own client, their project teams);
  events go to the org room.
- `project`: belongs to one project (the project itself included). RLS by project
  visibility; events go to the project room.
- `user`: one user's own (notifications, notification preferences). RLS by owner; events go
  to that user's room only.
- `internal`: the service's bookkeeping (sessions, tokens, the audit log, the feed cursor,
  search words). Never an event, never cached.

Every table of the first three kinds is audited: version, audit and doorbell triggers and
forced row-level security (migration 0002 and the migration that adds a table), and so has
an event resource name. tests/db/test_tables.py holds this declaration to db/schema.py and
to the migrated database.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType


class Kind(enum.Enum):
    ORG = "org"
    PROJECT = "project"
    USER = "user"
    INTERNAL = "internal"


@dataclass(frozen=True)
class TableInfo:
    kind: Kind
    # The singular name events and the audit trail use (`task.updated`); audited tables only.
    resource: str | None = None
    # Records cached by id (`rec:<table>:<id>`) and served from the cache after the read
    # rule of server/cache/reads.py, which tests/db/test_read_rule.py compares with RLS.
    cached: bool = False
    # Has a search vector: a change retires the org's cached search pages.
    searchable: bool = False
    # Read by the functions the RLS policies call (app_is_org_admin, app_visible_project_ids,
    # ...): a change can change who sees which project.
    visibility: bool = False

    def __post_init__(self) -> None:
        internal = self.kind is Kind.INTERNAL
        if internal != (self.resource is None):
            raise ValueError("audited tables, and only they, name an event resource")
        if internal and (self.cached or self.searchable or self.visibility):
            raise ValueError("an internal table is never cached, searched or read for visibility")


_ORG, _PROJECT, _USER, _INTERNAL = Kind.ORG, Kind.PROJECT, Kind.USER, Kind.INTERNAL

TABLES: Mapping[str, TableInfo] = MappingProxyType({
    "organizations": TableInfo(_ORG, "organization"),
    "clients": TableInfo(_ORG, "client", cached=True, searchable=True),
    "users": TableInfo(_ORG, "user", visibility=True),
    "projects": TableInfo(_PROJECT, "project", cached=True, searchable=True, visibility=True),
    "project_members": TableInfo(_PROJECT, "project_member", visibility=True),
    "tasks": TableInfo(_PROJECT, "task", cached=True, searchable=True),
    "scope_groups": TableInfo(_PROJECT, "scope_group"),
    "scope_items": TableInfo(_PROJECT, "scope_item", cached=True, searchable=True),
    "shop_drawings": TableInfo(_PROJECT, "shop_drawing", searchable=True),
    "shop_drawing_revisions": TableInfo(_PROJECT, "shop_drawing_revision"),
    "material_specs": TableInfo(_PROJECT, "material_spec", searchable=True),
    "item_links": TableInfo(_PROJECT, "item_link"),
    "comments": TableInfo(_PROJECT, "comment", searchable=True),
    "mentions": TableInfo(_PROJECT, "mention"),
    "attachments": TableInfo(_PROJECT, "attachment"),
    "drawings": TableInfo(_PROJECT, "drawing"),
    "drawing_revisions": TableInfo(_PROJECT, "drawing_revision"),
    "transmittals": TableInfo(_PROJECT, "transmittal"),
    "transmittal_recipients": TableInfo(_PROJECT, "transmittal_recipient"),
    "review_templates": TableInfo(_PROJECT, "review_template"),
    "reviews": TableInfo(_PROJECT, "review"),
    "review_tasks": TableInfo(_PROJECT, "review_task"),
    "rfis": TableInfo(_PROJECT, "rfi"),
    "rfi_responses": TableInfo(_PROJECT, "rfi_response"),
    "punch_items": TableInfo(_PROJECT, "punch_item"),
    "site_diaries": TableInfo(_PROJECT, "site_diary"),
    "notifications": TableInfo(_USER, "notification"),
    "notification_preferences": TableInfo(_USER, "notification_preference"),
    "audit_logs": TableInfo(_INTERNAL),
    "user_sessions": TableInfo(_INTERNAL),
    "password_tokens": TableInfo(_INTERNAL),
    "idempotency_keys": TableInfo(_INTERNAL),
    "realtime_cursor": TableInfo(_INTERNAL),
    "realtime_state": TableInfo(_INTERNAL),
    "search_words": TableInfo(_INTERNAL),
    "audit_chain_links": TableInfo(_INTERNAL),
    "audit_chain_heads": TableInfo(_INTERNAL),
    "audit_erasures": TableInfo(_INTERNAL),
    "audit_retention": TableInfo(_INTERNAL),
    "rfi_counters": TableInfo(_INTERNAL),
    "punch_item_counters": TableInfo(_INTERNAL),
    # The organisation's report logo (bytes: not for the audit trail; changes are user actions).
    "organization_logos": TableInfo(_INTERNAL),
    "notification_deliveries": TableInfo(_INTERNAL),
    "reminders_sent": TableInfo(_INTERNAL),
    "digests_sent": TableInfo(_INTERNAL),
    "export_jobs": TableInfo(_INTERNAL),
})


def _tables(test: Callable[[TableInfo], bool]) -> frozenset[str]:
    return frozenset(name for name, info in TABLES.items() if test(info))


ORG_TABLES = _tables(lambda t: t.kind is Kind.ORG)
PROJECT_TABLES = _tables(lambda t: t.kind is Kind.PROJECT)
USER_TABLES = _tables(lambda t: t.kind is Kind.USER)
INTERNAL_TABLES = _tables(lambda t: t.kind is Kind.INTERNAL)
# In declaration order (organisation, org-wide, project, user).
AUDITED_TABLES = tuple(name for name, info in TABLES.items() if info.kind is not Kind.INTERNAL)
RESOURCES: Mapping[str, str] = MappingProxyType(
    {name: info.resource for name, info in TABLES.items() if info.resource is not None})
CACHED_TABLES = _tables(lambda t: t.cached)
SEARCHABLE_TABLES = _tables(lambda t: t.searchable)
VISIBILITY_TABLES = _tables(lambda t: t.visibility)
