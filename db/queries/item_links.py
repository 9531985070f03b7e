"""Links between scope items and the tasks, shop drawings and material specs they cover.

`item_links` holds the pairs; a trigger mirrors them into `scope_item_ids` on the linked
record and `task_ids` / `shop_drawing_ids` / `material_spec_ids` on the scope item
(migration 0016), so reads need no extra query and every link change is a change of both
records (version, audit trail, live event, cache).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

# The link column of each record table that can be linked to scope items.
LINK_COLUMNS = {"tasks": "task_id", "shop_drawings": "shop_drawing_id",
                "material_specs": "material_spec_id"}


async def foreign_scope_items(conn: asyncpg.Connection, project_id: uuid.UUID,
                              item_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Those of `item_ids` that are not scope items of this project (as the actor sees it)."""
    found = await conn.fetch(
        "SELECT id FROM scope_items WHERE id = ANY($1::uuid[]) AND project_id = $2",
        list(item_ids), project_id)
    known = {r["id"] for r in found}
    return [i for i in item_ids if i not in known]


async def set_links(conn: asyncpg.Connection, table: str, record: Mapping[str, Any],
                    item_ids: Sequence[uuid.UUID]) -> None:
    """Make the record's scope links exactly `item_ids` (already checked to be scope items
    of its project). Inserted in id order, so concurrent writers lock scope items in one
    order."""
    column = LINK_COLUMNS[table]
    wanted = sorted(set(item_ids))
    await conn.execute(  # the column is one of LINK_COLUMNS
        f"DELETE FROM item_links WHERE {column} = $1 "  # noqa: S608 - LINK_COLUMNS
        "AND scope_item_id <> ALL($2::uuid[])", record["id"], wanted)
    await conn.execute(
        f"""INSERT INTO item_links (org_id, project_id, scope_item_id, {column})
            SELECT $1, $2, item, $3 FROM unnest($4::uuid[]) WITH ORDINALITY AS u(item, n)
            WHERE NOT EXISTS (SELECT 1 FROM item_links l
                              WHERE l.{column} = $3 AND l.scope_item_id = u.item)
            ORDER BY n""",  # noqa: S608 - LINK_COLUMNS
        record["org_id"], record["project_id"], record["id"], wanted)
