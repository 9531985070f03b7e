"""What the database already holds for the organisation: the rows an import may update."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg

LEGACY_TABLES = ("clients", "users", "projects", "scope_items", "tasks", "shop_drawings",
                 "material_specs")


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
    for table in LEGACY_TABLES:
        rows = await conn.fetch(
            f"SELECT * FROM {table} WHERE org_id = $1 AND legacy_id IS NOT NULL", org_id)
        state.by_legacy[table] = {r["legacy_id"]: _plain(r) for r in rows}
    for row in await conn.fetch("SELECT * FROM project_members WHERE org_id = $1", org_id):
        state.members[(row["project_id"], row["user_id"])] = _plain(row)
    for row in await conn.fetch("SELECT * FROM scope_groups WHERE org_id = $1", org_id):
        state.groups[(row["project_id"], row["name"])] = _plain(row)
    for row in await conn.fetch("SELECT * FROM shop_drawing_revisions WHERE org_id = $1",
                                org_id):
        state.revisions[(row["drawing_id"], row["revision"])] = _plain(row)
    for row in await conn.fetch(
            """SELECT *, coalesce(task_id, shop_drawing_id, material_spec_id) AS target
               FROM item_links WHERE org_id = $1""", org_id):
        state.links[(row["scope_item_id"], row["target"])] = _plain(row)
    for row in await conn.fetch(
            "SELECT * FROM users WHERE lower(email) = ANY($1::text[])",
            [e.lower() for e in emails]):
        state.emails[row["email"].lower()] = _plain(row)
    for row in await conn.fetch(
            "SELECT id, project_id, drawing_number FROM shop_drawings WHERE org_id = $1", org_id):
        state.drawing_numbers[(row["project_id"], row["drawing_number"])] = row["id"]
    for row in await conn.fetch(
            "SELECT id, project_id, code FROM scope_items WHERE org_id = $1 AND code IS NOT NULL",
            org_id):
        state.scope_codes[(row["project_id"], row["code"])] = row["id"]
    return state


def _plain(record: asyncpg.Record) -> dict[str, Any]:
    return {k: v for k, v in dict(record).items() if k != "search_vector"}
