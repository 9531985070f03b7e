"""What the database already holds for the organisation: the rows an import may update."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from db.queries import importer as q


@dataclass
class Existing:
    """Existing rows by legacy id per table, and the secondary rows by their natural keys."""

    by_legacy: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    members: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    groups: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    revisions: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    links: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    # lower(email) -> user row, across every organisation (e-mails are unique service-wide).
    emails: dict[str, dict[str, Any]] = field(default_factory=dict)
    drawing_numbers: dict[tuple[Any, ...], uuid.UUID] = field(default_factory=dict)
    scope_codes: dict[tuple[Any, ...], uuid.UUID] = field(default_factory=dict)

    def by_key(self, table: str, key: tuple[Any, ...]) -> dict[str, Any] | None:
        if key[0] == "legacy":
            return self.by_legacy.get(table, {}).get(key[1])
        natural = {"project_members": self.members, "scope_groups": self.groups,
                   "shop_drawing_revisions": self.revisions, "item_links": self.links}
        return natural[table].get(key)


async def load_existing(conn: asyncpg.Connection, org_id: uuid.UUID,
                        emails: list[str]) -> Existing:
    """Read everything a plan compares against, in the import's own transaction."""
    state = Existing()
    for table in q.LEGACY_TABLES:
        rows = await q.legacy_rows(conn, table, org_id)
        state.by_legacy[table] = {r["legacy_id"]: _plain(r) for r in rows}
    for row in await q.org_rows(conn, "project_members", org_id):
        state.members[(row["project_id"], row["user_id"])] = _plain(row)
    for row in await q.org_rows(conn, "scope_groups", org_id):
        state.groups[(row["project_id"], row["name"])] = _plain(row)
    for row in await q.org_rows(conn, "shop_drawing_revisions", org_id):
        state.revisions[(row["drawing_id"], row["revision"])] = _plain(row)
    for row in await q.item_links(conn, org_id):
        state.links[(row["scope_item_id"], row["target"])] = _plain(row)
    for row in await q.users_by_email(conn, emails):
        state.emails[row["email"].lower()] = _plain(row)
    for row in await q.drawing_numbers(conn, org_id):
        state.drawing_numbers[(row["project_id"], row["drawing_number"])] = row["id"]
    for row in await q.scope_codes(conn, org_id):
        state.scope_codes[(row["project_id"], row["code"])] = row["id"]
    return state


def _plain(record: asyncpg.Record) -> dict[str, Any]:
    return {k: v for k, v in dict(record).items() if k != "search_vector"}
