"""SQL of the procurement schedule (material specs' dates, delivery and at-risk flags) and
of scope readiness. Lists run as the caller; the at-risk sweep as the system role."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from db.queries.rows import PageLike, fetch_page

# What the schedule shows of a spec (no costs: client users read the list too).
SCHEDULE_COLUMNS = (
    "id, project_id, code, description, category, supplier_name, status, version, "
    "lead_time_days, required_on_site, design_review_days, internal_review_days, "
    "expected_delivery_on, delivery_status, ordered_on, in_fabrication_on, shipped_on, "
    "delivered_on, received_on, risk_reasons, at_risk, created_at, updated_at")
# What the at-risk check reads of a spec.
RISK_COLUMNS = (
    "m.id, m.org_id, m.project_id, m.code, m.description, m.status, m.lead_time_days, "
    "m.required_on_site, m.design_review_days, m.internal_review_days, "
    "m.expected_delivery_on, m.delivery_status, m.risk_reasons")


async def schedule_page(conn: asyncpg.Connection, page: PageLike, project_id: uuid.UUID,
                        at_risk: bool | None) -> list[asyncpg.Record]:
    return await fetch_page(conn, "material_specs", [
        ("project_id = {}", project_id), ("at_risk = {}", at_risk)],
        page, columns=SCHEDULE_COLUMNS)


async def risk_candidates(conn: asyncpg.Connection, after: uuid.UUID | None,
                          batch: int) -> list[asyncpg.Record]:
    """Specs whose flags may hold or have held (a schedule date known, or a flag set),
    with their project's calendar, by id after `after` (the sweep's keyset). System role."""
    return list(await conn.fetch(
        f"""SELECT {RISK_COLUMNS}, coalesce(p.time_zone, o.time_zone) AS time_zone,
                   o.workdays, o.holidays
            FROM material_specs m JOIN projects p ON p.id = m.project_id
            JOIN organizations o ON o.id = m.org_id
            WHERE (m.required_on_site IS NOT NULL OR m.at_risk)
              AND ($1::uuid IS NULL OR m.id > $1)
            ORDER BY m.id LIMIT $2""", after, batch))  # noqa: S608 - RISK_COLUMNS constant


async def set_risks(conn: asyncpg.Connection, spec_id: uuid.UUID, was: Sequence[str],
                    now: Sequence[str]) -> asyncpg.Record | None:
    """Set the spec's flags when they are still `was` (one writer sees each flip: a second
    sweep, or a request that changed them meanwhile, updates nothing)."""
    return await conn.fetchrow(
        """UPDATE material_specs SET risk_reasons = $3::text[],
                  at_risk = cardinality($3::text[]) > 0
           WHERE id = $1 AND risk_reasons = $2::text[]
           RETURNING id, org_id, project_id, code, description, risk_reasons, at_risk""",
        spec_id, list(was), list(now))


async def project_manager(conn: asyncpg.Connection, project_id: uuid.UUID) -> uuid.UUID | None:
    """The project's manager, else its first project-manager member."""
    found: uuid.UUID | None = await conn.fetchval(
        """SELECT coalesce((SELECT p.project_manager_id FROM projects p WHERE p.id = $1),
                           (SELECT m.user_id FROM project_members m
                            WHERE m.project_id = $1 AND m.role = 'project_manager'
                            ORDER BY m.created_at, m.id LIMIT 1))""", project_id)
    return found


async def known_specs(conn: asyncpg.Connection, project_id: uuid.UUID,
                      ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `ids` that are visible material specs of the project."""
    return {r["id"] for r in await conn.fetch(
        "SELECT id FROM material_specs WHERE project_id = $1 AND id = ANY ($2::uuid[])",
        project_id, list(ids))}


# --- readiness -----------------------------------------------------------------------------

ITEM_COLUMNS = "id, project_id, code, name, status, production_ready, version"


async def readiness_page(conn: asyncpg.Connection, page: PageLike, project_id: uuid.UUID,
                         ready: bool | None) -> list[asyncpg.Record]:
    return await fetch_page(conn, "scope_items", [
        ("project_id = {}", project_id), ("production_ready = {}", ready)],
        page, columns=ITEM_COLUMNS)


async def linked_records(conn: asyncpg.Connection,
                         item_ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    """The shop drawings and material specs linked to the items, in one query."""
    return list(await conn.fetch(
        """SELECT l.scope_item_id, 'shop_drawing' AS type, d.id, d.drawing_number AS code,
                  d.title, d.status, NULL::text AS delivery_status
           FROM item_links l JOIN shop_drawings d ON d.id = l.shop_drawing_id
           WHERE l.scope_item_id = ANY ($1::uuid[])
           UNION ALL
           SELECT l.scope_item_id, 'material_spec', m.id, m.code, left(m.description, 300),
                  m.status, m.delivery_status
           FROM item_links l JOIN material_specs m ON m.id = l.material_spec_id
           WHERE l.scope_item_id = ANY ($1::uuid[])
           ORDER BY 1, 2, 4, 3""", list(item_ids)))


async def readiness_counts(conn: asyncpg.Connection, project_id: uuid.UUID) -> asyncpg.Record:
    row = await conn.fetchrow(
        """SELECT count(*) AS items, count(*) FILTER (WHERE production_ready) AS ready
           FROM scope_items WHERE project_id = $1""", project_id)
    assert row is not None
    return row
