"""Links from tasks, shop drawings and material specs to the scope items they cover: the
request side (which ids a body may name, and how stored and sent links compare), and the
writes of a record that carries such links."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from db.queries.item_links import foreign_scope_items, set_links
from db.queries.rows import insert_row, update_locked
from rules.workflows.machine import EditLock, changed_fields
from server.errors import Invalid


async def scope_items_of(conn: asyncpg.Connection, project_id: uuid.UUID,
                         item_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """The distinct ids, sorted as the database sorts them; 422 naming `scope_item_ids`
    when one is not a scope item of the project (or not visible to the caller)."""
    unique = sorted(set(item_ids))
    foreign = await foreign_scope_items(conn, project_id, unique)
    if foreign:
        raise Invalid("Some scope items are not part of this project", errors=[{
            "field": "scope_item_ids", "message": f"not in this project: {foreign[0]}"}])
    return unique


def with_sorted_links(values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` with `scope_item_ids` as a sorted set, so stored and sent links compare."""
    out = dict(values)
    if out.get("scope_item_ids") is not None:
        out["scope_item_ids"] = sorted(set(out["scope_item_ids"]))
    return out


async def vet_links(conn: asyncpg.Connection, project_id: uuid.UUID,
                    changes: dict[str, Any]) -> None:
    """When a change names `scope_item_ids`: those of the project, deduplicated and sorted
    (422 naming the field for any other id)."""
    if "scope_item_ids" in changes:
        changes["scope_item_ids"] = await scope_items_of(conn, project_id,
                                                         changes["scope_item_ids"])


async def save_links(conn: asyncpg.Connection, table: str, row: asyncpg.Record,
                     changes: Mapping[str, Any]) -> None:
    """Store the links a change names (a change without `scope_item_ids` keeps them)."""
    if "scope_item_ids" in changes:
        await set_links(conn, table, row, changes["scope_item_ids"])


async def insert_linked(conn: asyncpg.Connection, table: str, project: asyncpg.Record,
                        values: Mapping[str, Any], created_by: uuid.UUID) -> asyncpg.Record:
    """A new record of `project` (as `visible_project` read it) linked to the scope items
    `values` names (vetted: 422 for another project's), its links stored."""
    items = await scope_items_of(conn, project["id"], values.get("scope_item_ids") or [])
    row = await insert_row(conn, table, {**values, "scope_item_ids": items,
                                         "org_id": project["org_id"], "created_by": created_by})
    await set_links(conn, table, row, items)
    return row


def check_edit(lock: EditLock, current: Mapping[str, Any], changes: Mapping[str, Any],
               role: str) -> None:
    """409 `record_locked` when `changes` touch what `lock` keeps fixed in the record's
    state (links compared as sets; values sent back unchanged pass)."""
    lock.check_edit(current["status"], changed_fields(
        with_sorted_links(current), with_sorted_links(changes)), role)


async def update_linked(conn: asyncpg.Connection, table: str, current: asyncpg.Record,
                        changes: dict[str, Any],
                        derived: Mapping[str, Any] | None = None) -> asyncpg.Record:
    """Write `changes` (and `derived`, columns computed from them) to the row `current`,
    locked by the caller; scope items a change names are vetted and their links stored."""
    await vet_links(conn, current["project_id"], changes)
    row = await update_locked(conn, table, current["id"], {**changes, **(derived or {})})
    await save_links(conn, table, row, changes)
    return row
