"""SQL of the weekly project report (server/reports/weekly.py): every figure is read in the
requester's own transaction, so row-level security decides what the report may hold; the
caller strips internal costs for client users (db/audience.py).

Each function answers one section's data, bounded: lists carry a LIMIT and their full count.
Instants are UTC bounds of the period (`start` inclusive, `end` exclusive), computed by the
caller from the period's dates in the project's time zone."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import asyncpg

OPEN_TASK = "status NOT IN ('completed', 'cancelled')"
USER_NAME = "nullif(btrim(coalesce(u.first_name, '') || ' ' || coalesce(u.last_name, '')), '')"


async def header(conn: asyncpg.Connection, project_id: uuid.UUID) -> asyncpg.Record | None:
    """The project, its firm, client, manager and calendar, and the viewer's role; None when
    the viewer cannot see the project."""
    return await conn.fetchrow(
        f"""SELECT p.id, p.name, p.status, p.progress, p.budget, p.start_date, p.end_date,
                  p.location, p.time_zone AS project_time_zone, o.time_zone AS org_time_zone,
                  o.workdays, o.holidays, o.id AS org_id, o.name AS org_name,
                  c.name AS client_name, {USER_NAME} AS manager_name,
                  (SELECT v.role FROM users v WHERE v.id = app_user_id()) AS viewer_role
           FROM projects p JOIN organizations o ON o.id = p.org_id
           LEFT JOIN clients c ON c.id = p.client_id
           LEFT JOIN users u ON u.id = p.project_manager_id
           WHERE p.id = $1""",  # noqa: S608 - USER_NAME is a fixed expression
        project_id)


async def summary(conn: asyncpg.Connection, project_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM project_summary WHERE project_id = $1", project_id)


async def period_counts(conn: asyncpg.Connection, project_id: uuid.UUID, start: dt.datetime,
                        end: dt.datetime) -> asyncpg.Record:
    """What moved in the period: tasks created and completed, drawing revisions published."""
    row = await conn.fetchrow(
        """SELECT (SELECT count(*) FROM tasks WHERE project_id = $1
                   AND created_at >= $2 AND created_at < $3)::int AS tasks_created,
                  (SELECT count(*) FROM tasks WHERE project_id = $1 AND status = 'completed'
                   AND completed_at >= $2 AND completed_at < $3)::int AS tasks_completed,
                  (SELECT count(*) FROM drawing_revisions WHERE project_id = $1
                   AND published_at >= $2 AND published_at < $3)::int AS revisions_published""",
        project_id, start, end)
    assert row is not None
    return row


async def progress_changes(conn: asyncpg.Connection, project_id: uuid.UUID,
                           start: dt.datetime, end: dt.datetime) -> list[asyncpg.Record]:
    """The project's `progress` as the audit log recorded it: the last value before `start`
    (when there is one) and every change until `end`, oldest first; at most 2,000 rows."""
    return list(await conn.fetch(
        """(SELECT at, (new_values->>'progress')::int AS progress FROM audit_logs
            WHERE table_name = 'projects' AND record_id = $1 AND project_id = $1
              AND (action = 'insert' OR (action = 'update' AND 'progress' = ANY (changed_fields)))
              AND at < $2
            ORDER BY at DESC, id DESC LIMIT 1)
           UNION ALL
           (SELECT at, (new_values->>'progress')::int FROM audit_logs
            WHERE table_name = 'projects' AND record_id = $1 AND project_id = $1
              AND (action = 'insert' OR (action = 'update' AND 'progress' = ANY (changed_fields)))
              AND at >= $2 AND at < $3
            ORDER BY at, id LIMIT 2000)
           ORDER BY at""",
        project_id, start, end))


async def tasks_done_by_day(conn: asyncpg.Connection, project_id: uuid.UUID,
                            day_ends: Sequence[dt.datetime]) -> list[asyncpg.Record]:
    """For each instant of `day_ends` (the end of each day of the period): how many of the
    project's tasks existed by then and how many of those were completed by then."""
    return list(await conn.fetch(
        """SELECT e.at,
                  count(t.id) FILTER (WHERE t.created_at < e.at)::int AS total,
                  count(t.id) FILTER (WHERE t.created_at < e.at AND t.status = 'completed'
                                      AND t.completed_at < e.at)::int AS done
           FROM unnest($2::timestamptz[]) AS e(at)
           LEFT JOIN tasks t ON t.project_id = $1
           GROUP BY e.at ORDER BY e.at""",
        project_id, list(day_ends)))


async def register_by_status(conn: asyncpg.Connection,
                             project_id: uuid.UUID) -> dict[str, int]:
    """The drawing register's current revisions by ISO 19650 status (S0..S4, A1, ...)."""
    rows = await conn.fetch(
        """SELECT r.status, count(*)::int AS n FROM drawing_revisions r
           WHERE r.project_id = $1 AND r.is_current GROUP BY r.status ORDER BY r.status""",
        project_id)
    return {r["status"]: r["n"] for r in rows}


async def overdue_by_holder(conn: asyncpg.Connection, project_id: uuid.UUID,
                            today: dt.date) -> list[asyncpg.Record]:
    """Overdue items by who holds the ball: open tasks past due (their assignee), open RFIs
    past due (each user of the distribution), pending review tasks past due (the reviewer:
    a user, a project role or a client company). `holder` is null for a user the viewer
    cannot see; `kind` is task, rfi or review."""
    return list(await conn.fetch(
        f"""SELECT holder, kind, count(*)::int AS n FROM (
              SELECT coalesce({USER_NAME}, CASE WHEN t.assigned_to IS NULL
                                               THEN 'Unassigned' END) AS holder, 'task' AS kind
              FROM tasks t LEFT JOIN users u ON u.id = t.assigned_to
              WHERE t.project_id = $1 AND t.due_date < $2 AND t.{OPEN_TASK}
              UNION ALL
              SELECT coalesce({USER_NAME}, CASE WHEN h.user_id IS NULL
                                               THEN 'No distribution' END), 'rfi'
              FROM rfis r
              LEFT JOIN LATERAL unnest(r.distribution) AS h(user_id) ON true
              LEFT JOIN users u ON u.id = h.user_id
              WHERE r.project_id = $1 AND r.status = 'open' AND r.due_on < $2
              UNION ALL
              SELECT CASE rt.reviewer_kind
                       WHEN 'user' THEN {USER_NAME}
                       WHEN 'role' THEN 'Every ' || replace(rt.reviewer_ref, '_', ' ')
                       ELSE coalesce(c.name, 'Client') END, 'review'
              FROM review_tasks rt
              LEFT JOIN users u ON rt.reviewer_kind = 'user' AND u.id::text = rt.reviewer_ref
              LEFT JOIN clients c ON rt.reviewer_kind = 'client' AND c.id::text = rt.reviewer_ref
              WHERE rt.project_id = $1 AND rt.state = 'pending' AND rt.due_on < $2
           ) x GROUP BY holder, kind ORDER BY holder NULLS LAST, kind""",  # noqa: S608 - fixed
        project_id, today))


async def submittals(conn: asyncpg.Connection, project_id: uuid.UUID,
                     limit: int) -> tuple[list[asyncpg.Record], int]:
    """The submittal log: shop drawings then material specs (never a cost column), at most
    `limit` rows, and how many there are in all."""
    rows = await conn.fetch(
        """SELECT * FROM (
             SELECT 'Shop drawing' AS kind, drawing_number AS number, title, revision, status,
                    submitted_at, approved_at AS decided_at, updated_at, 0 AS sort
             FROM shop_drawings WHERE project_id = $1
             UNION ALL
             SELECT 'Material spec', coalesce(code, '—'), left(description, 200), NULL, status,
                    NULL, approved_at, updated_at, 1
             FROM material_specs WHERE project_id = $1) s
           ORDER BY sort, number, updated_at LIMIT $2""",
        project_id, limit)
    total = await conn.fetchval(
        "SELECT (SELECT count(*) FROM shop_drawings WHERE project_id = $1) "
        "+ (SELECT count(*) FROM material_specs WHERE project_id = $1)", project_id)
    return list(rows), int(total)


async def revised_drawings(conn: asyncpg.Connection, project_id: uuid.UUID, start: dt.datetime,
                           end: dt.datetime, limit: int) -> list[asyncpg.Record]:
    """Drawing revisions published in the period, with the storage key of their file when
    it is stored and has a thumbnail; at most `limit`."""
    return list(await conn.fetch(
        """SELECT d.number, d.title, r.revision, r.status, r.published_at,
                  CASE WHEN a.status = 'ready' AND a.deleted_at IS NULL
                            AND a.thumbnail = 'ready' THEN a.storage_key END AS storage_key
           FROM drawing_revisions r JOIN drawings d ON d.id = r.drawing_id
           LEFT JOIN attachments a ON a.id = r.attachment_id
           WHERE r.project_id = $1 AND r.published_at >= $2 AND r.published_at < $3
           ORDER BY d.number, r.revision LIMIT $4""",
        project_id, start, end, limit))


# --- the organisation's logo (migration 0029) --------------------------------------------


async def logo(conn: asyncpg.Connection, org_id: uuid.UUID) -> asyncpg.Record | None:
    """The logo of the viewer's organisation (RLS: no other organisation's)."""
    return await conn.fetchrow(
        "SELECT org_id, media_type, data, width, height, sha256, updated_at "
        "FROM organization_logos WHERE org_id = $1", org_id)


async def set_logo(conn: asyncpg.Connection, org_id: uuid.UUID, *, media_type: str,
                   data: bytes, width: int, height: int, sha256: str) -> asyncpg.Record:
    """Store (or replace) the logo; RLS lets an org admin only."""
    row = await conn.fetchrow(
        """INSERT INTO organization_logos AS l (org_id, media_type, data, width, height, sha256)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (org_id) DO UPDATE SET media_type = excluded.media_type,
               data = excluded.data, width = excluded.width, height = excluded.height,
               sha256 = excluded.sha256, updated_at = now()
           RETURNING org_id, media_type, octet_length(data) AS size, width, height, sha256,
                     updated_at""",
        org_id, media_type, data, width, height, sha256)
    assert row is not None
    return row


async def delete_logo(conn: asyncpg.Connection, org_id: uuid.UUID) -> bool:
    return await conn.fetchval(
        "DELETE FROM organization_logos WHERE org_id = $1 RETURNING true", org_id) is not None
