"""SQL of the daily job (system role): the open tasks, review tasks and RFIs with a due date
and the people whose court they are in, the reminders and digests already sent, and the
notifications still to be mailed."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence

import asyncpg

from rules.notifications import REMINDER_DAYS

# Whether user `u` can read project `p` (what app_visible_project_ids() decides for them).
_READS = """u.status = 'active' AND u.org_id = p.org_id AND CASE
    WHEN u.role = 'admin' THEN true
    WHEN u.role = 'client' THEN u.client_id = p.client_id
    ELSE u.id = p.project_manager_id OR u.id = p.created_by OR EXISTS (
        SELECT 1 FROM project_members m WHERE m.project_id = p.id AND m.user_id = u.id)
END"""

# Everything due in the window of its project's zone (`$1` zones, `$2` their local days,
# both from the caller: the zones where it is the sending hour), with the people who must
# act and can read the project, and the organisation's working days; what was already
# reminded that local day is left out (the insert is the real guard).
_CANDIDATES = f"""
WITH zones AS (
    SELECT z.zone, z.day, z.day - {REMINDER_DAYS} AS first, z.day + 16 AS last
    FROM unnest($1::text[], $2::date[]) AS z(zone, day)
), projects_now AS (
    SELECT p.id, p.org_id, p.client_id, p.project_manager_id, p.created_by, z.zone, z.day,
           z.first, z.last, o.workdays, o.holidays
    FROM projects p JOIN organizations o ON o.id = p.org_id
    JOIN zones z ON z.zone = coalesce(p.time_zone, o.time_zone)
), due AS (
    SELECT 'task' AS task_kind, t.id AS task_id, t.project_id, t.name, t.due_date AS due_on,
           t.assigned_to AS user_id
    FROM tasks t JOIN projects_now p ON p.id = t.project_id
    WHERE t.due_date BETWEEN p.first AND p.last AND t.assigned_to IS NOT NULL
      AND t.status NOT IN ('completed', 'cancelled')
  UNION ALL
    SELECT 'review_task', rt.id, rt.project_id, r.name, rt.due_on, ru.id
    FROM review_tasks rt JOIN projects_now p ON p.id = rt.project_id
    JOIN reviews r ON r.id = rt.review_id AND r.status = 'in_progress'
    CROSS JOIN LATERAL (
        SELECT CASE WHEN rt.reviewer_kind = 'user' THEN rt.reviewer_ref::uuid END AS id
        WHERE rt.reviewer_kind = 'user'
        UNION SELECT m.user_id FROM project_members m
        WHERE rt.reviewer_kind = 'role' AND m.project_id = rt.project_id
          AND m.role = rt.reviewer_ref
        UNION SELECT cu.id FROM users cu
        WHERE rt.reviewer_kind = 'client' AND cu.client_id =
            CASE WHEN rt.reviewer_kind = 'client' THEN rt.reviewer_ref::uuid END) ru
    WHERE rt.state = 'pending' AND rt.due_on BETWEEN p.first AND p.last
  UNION ALL
    SELECT 'rfi', f.id, f.project_id, f.number || ' ' || f.subject, f.due_on, d.user_id
    FROM rfis f JOIN projects_now p ON p.id = f.project_id
    CROSS JOIN LATERAL unnest(f.distribution) AS d(user_id)
    WHERE f.status = 'open' AND f.due_on BETWEEN p.first AND p.last
)
SELECT d.task_kind, d.task_id, d.project_id, d.name, d.due_on, d.user_id, p.org_id,
       p.zone AS time_zone, p.day, p.workdays, p.holidays
FROM due d
JOIN projects_now p ON p.id = d.project_id
JOIN users u ON u.id = d.user_id
WHERE {_READS}
  AND NOT EXISTS (
    SELECT 1 FROM reminders_sent s
    WHERE s.kind = d.task_kind AND s.task_id = d.task_id AND s.user_id = d.user_id
      AND s.day = p.day)
ORDER BY d.task_kind, d.task_id, d.user_id
"""  # noqa: S608 - _READS and REMINDER_DAYS, constants


async def zones(conn: asyncpg.Connection) -> list[str]:
    """Every time zone in force: the organisations' and the projects' own."""
    rows = await conn.fetch("SELECT time_zone FROM organizations UNION "
                            "SELECT time_zone FROM projects WHERE time_zone IS NOT NULL")
    return [r["time_zone"] for r in rows]


async def candidates(conn: asyncpg.Connection,
                     days: Mapping[str, dt.date]) -> list[asyncpg.Record]:
    """What is due around `days` (zone -> its local day) in the projects of those zones."""
    return list(await conn.fetch(_CANDIDATES, list(days), list(days.values())))


async def claim_reminders(conn: asyncpg.Connection, kinds: Sequence[str],
                          task_ids: Sequence[uuid.UUID], user_ids: Sequence[uuid.UUID],
                          days: Sequence[dt.date],
                          org_ids: Sequence[uuid.UUID]) -> set[tuple[str, uuid.UUID, uuid.UUID]]:
    """Insert the (kind, task, user, day) rows; those that were not there yet come back:
    theirs is the reminder to send. A concurrent claimer of the same row waits for this
    transaction and then gets nothing."""
    rows = await conn.fetch(
        """INSERT INTO reminders_sent (kind, task_id, user_id, day, org_id)
           SELECT * FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::date[], $5::uuid[])
           ON CONFLICT DO NOTHING RETURNING kind, task_id, user_id""",
        list(kinds), list(task_ids), list(user_ids), list(days), list(org_ids))
    return {(r["kind"], r["task_id"], r["user_id"]) for r in rows}


async def forget_reminders(conn: asyncpg.Connection, before: dt.date) -> None:
    """Reminders older than any that could still matter."""
    await conn.execute("DELETE FROM reminders_sent WHERE day < $1", before)


async def digest_users(conn: asyncpg.Connection, days: Mapping[str, dt.date],
                       limit: int) -> list[asyncpg.Record]:
    """Users with notifications waiting for their digest whose organisation's zone is one
    of `days` (zone -> its local day) and who had no digest that day yet."""
    return list(await conn.fetch(
        """SELECT u.id, u.org_id, u.email, u.first_name, z.day
           FROM (SELECT DISTINCT user_id FROM notification_deliveries
                 WHERE channel = 'digest' AND sent_at IS NULL) d
           JOIN users u ON u.id = d.user_id JOIN organizations o ON o.id = u.org_id
           JOIN unnest($1::text[], $2::date[]) AS z(zone, day) ON z.zone = o.time_zone
           WHERE NOT EXISTS (SELECT 1 FROM digests_sent s
                             WHERE s.user_id = u.id AND s.day = z.day)
           ORDER BY u.id LIMIT $3""", list(days), list(days.values()), limit))


async def claim_digest(conn: asyncpg.Connection, user_id: uuid.UUID, org_id: uuid.UUID,
                       day: dt.date) -> bool:
    """The user's digest of `day`, if nobody sent it yet."""
    return await conn.fetchval(
        """INSERT INTO digests_sent (user_id, day, org_id, items) VALUES ($1, $2, $3, 0)
           ON CONFLICT DO NOTHING RETURNING true""", user_id, day, org_id) is not None


async def take_pending(conn: asyncpg.Connection, channel: str, user_id: uuid.UUID | None,
                       limit: int) -> list[uuid.UUID]:
    """Mark waiting deliveries of a channel (of one user, or of anyone) sent; their ids."""
    rows = await conn.fetch(
        """UPDATE notification_deliveries SET sent_at = now()
           WHERE notification_id IN (
               SELECT notification_id FROM notification_deliveries
               WHERE channel = $1 AND sent_at IS NULL AND ($2::uuid IS NULL OR user_id = $2)
               ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED)
           RETURNING notification_id""", channel, user_id, limit)
    return [r["notification_id"] for r in rows]


async def readable_notifications(conn: asyncpg.Connection,
                                 ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    """Those notifications whose recipient is active and can still read their project (or
    that have none), with the recipient's address and the project's name."""
    return list(await conn.fetch(
        f"""SELECT n.id, n.user_id, n.type, n.title, n.message, n.created_at, u.email,
                   u.first_name, p.name AS project
            FROM notifications n JOIN users u ON u.id = n.user_id
            LEFT JOIN projects p ON p.id = n.project_id
            WHERE n.id = ANY ($1::uuid[]) AND u.status = 'active'
              AND (n.project_id IS NULL OR ({_READS}))
            ORDER BY n.created_at, n.id""", list(ids)))  # noqa: S608 - _READS, a constant


async def set_digest_items(conn: asyncpg.Connection, user_id: uuid.UUID, day: dt.date,
                           items: int) -> None:
    await conn.execute("UPDATE digests_sent SET items = $3 WHERE user_id = $1 AND day = $2",
                       user_id, day, items)


async def give_back(conn: asyncpg.Connection, ids: Sequence[uuid.UUID],
                    digest: tuple[uuid.UUID, dt.date] | None = None) -> None:
    """A mail that could not be sent: its deliveries (and the digest's day) are pending
    again, for the next pass."""
    await conn.execute("UPDATE notification_deliveries SET sent_at = NULL "
                       "WHERE notification_id = ANY ($1::uuid[])", list(ids))
    if digest is not None:
        await conn.execute("DELETE FROM digests_sent WHERE user_id = $1 AND day = $2", *digest)
