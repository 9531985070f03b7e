"""SQL of the project logs (reports): the submittal log (shop drawings and material specs in
one list, each with its latest review and whoever holds the ball) and the RFI log.

One statement per page, whatever the page size: the records come from index scans in the
page's order, and each row's review, pending tasks and official answer are read by
`LEFT JOIN LATERAL` on their indexes (reviews by entity, tasks by review and step,
responses by id), only for the rows the page keeps. Runs as the caller: row-level security
decides which records, reviews and tasks exist (a client user sees only its own review
tasks, so only its part of a review).

The first filter is always the project (`$1`), which the sources also read for the
project's reviewer (an `InitPlan`, computed once per statement).
"""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from db.queries.rows import Filter, PageLike, fetch_page
from rules import logs as rules


def _in(statuses: tuple[str, ...] | frozenset[str]) -> str:
    """`('a', 'b')` from a fixed list of status words (rules/logs.py)."""
    assert all(s.isidentifier() for s in statuses), statuses
    return "(" + ", ".join(f"'{s}'" for s in sorted(statuses)) + ")"


# The project's reviewer of a submittal when the record names none: its project manager,
# else the first project-manager member (as server/routes/shop_drawings.py answers it).
_PROJECT_REVIEWER = """(SELECT coalesce(p.project_manager_id, (
        SELECT m.user_id FROM project_members m
        WHERE m.project_id = p.id AND m.role = 'project_manager'
        ORDER BY m.created_at, m.id LIMIT 1))
    FROM projects p WHERE p.id = $1::uuid)"""

_D_SUB = _in(rules.statuses_with(rules.DRAWING_PARTY, "submitter"))
_D_REV = _in(rules.statuses_with(rules.DRAWING_PARTY, "reviewer"))
_S_SUB = _in(rules.statuses_with(rules.SPEC_PARTY, "submitter"))
_S_REV = _in(rules.statuses_with(rules.SPEC_PARTY, "reviewer"))

# Both kinds as one relation with the same columns. `number` is the drawing number or the
# spec's code ('' when it has none): never NULL, so it can be a keyset sort key.
_SUBMITTALS = f"""(
    SELECT 'shop_drawing'::text AS kind, d.id, d.project_id, d.drawing_number AS number,
           d.title, d.revision, d.status, d.created_at, d.updated_at,
           CASE WHEN d.status IN {_in(rules.DRAWING_CLOSED)}
                THEN coalesce(d.approved_at, d.updated_at) END AS closed_at,
           CASE WHEN d.status IN {_D_SUB} THEN 'submitter'
                WHEN d.status IN {_D_REV} THEN 'reviewer' END AS party,
           CASE WHEN d.status IN {_D_SUB} THEN coalesce(d.submitted_by, d.created_by)
                WHEN d.status IN {_D_REV} THEN coalesce(d.reviewed_by, {_PROJECT_REVIEWER})
                END AS party_user,
           CASE WHEN d.status IN {_D_REV} THEN coalesce(d.submitted_at, d.updated_at)
                WHEN d.status IN {_D_SUB} THEN d.updated_at END AS party_since
    FROM shop_drawings d
    UNION ALL
    SELECT 'material_spec'::text, m.id, m.project_id, coalesce(m.code, ''),
           left(m.description, 300), NULL::text, m.status, m.created_at, m.updated_at,
           CASE WHEN m.status IN {_in(rules.SPEC_CLOSED)}
                THEN coalesce(m.approved_at, m.updated_at) END,
           CASE WHEN m.status IN {_S_SUB} THEN 'submitter'
                WHEN m.status IN {_S_REV} THEN 'reviewer' END,
           CASE WHEN m.status IN {_S_SUB} THEN m.created_by
                WHEN m.status IN {_S_REV} THEN {_PROJECT_REVIEWER} END,
           CASE WHEN m.status IN {_S_SUB} OR m.status IN {_S_REV} THEN m.updated_at END
    FROM material_specs m) s
LEFT JOIN LATERAL (
    SELECT r.id AS review_id, r.name AS review_name, r.status AS review_status,
           r.current_step AS review_step, r.steps -> r.current_step ->> 'name'
           AS review_step_name, jsonb_array_length(r.steps) AS review_steps,
           r.result AS review_result, r.started_on AS review_started_on
    FROM reviews r WHERE r.entity_type = s.kind AND r.entity_id = s.id
    ORDER BY r.created_at DESC LIMIT 1) rv ON true
LEFT JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object('kind', t.reviewer_kind, 'ref', t.reviewer_ref,
                                        'since', t.assigned_at, 'due_on', t.due_on)
                     ORDER BY t.due_on, t.assigned_at, t.id)
               FILTER (WHERE t.state = 'pending') AS holders,
           min(t.due_on) FILTER (WHERE t.state = 'pending') AS task_due_on,
           min(t.assigned_at) FILTER (WHERE t.state = 'pending') AS task_since,
           coalesce(jsonb_agg(t.outcome ORDER BY t.responded_at, t.id)
                    FILTER (WHERE t.state = 'responded'), '[]'::jsonb) AS review_outcomes
    FROM review_tasks t
    WHERE t.review_id = rv.review_id AND t.step = rv.review_step) bt ON true"""  # noqa: S608 - fixed status lists

SUBMITTAL_COLUMNS = """s.*, rv.*, bt.holders, bt.task_since, bt.review_outcomes,
    (rv.review_status = 'in_progress') AS under_review,
    CASE WHEN rv.review_status = 'in_progress' THEN bt.task_due_on END AS due_on"""

# A submittal whose ball is in user {0}'s court: a pending task of its running review
# addressed to them, to a role they hold on the project, or to their client company; when
# no review runs, the workflow's party.
_SUBMITTAL_BALL = """CASE WHEN rv.review_status = 'in_progress' THEN EXISTS (
    SELECT 1 FROM review_tasks t
    WHERE t.review_id = rv.review_id AND t.step = rv.review_step AND t.state = 'pending'
      AND ((t.reviewer_kind = 'user' AND t.reviewer_ref = {0}::uuid::text)
           OR (t.reviewer_kind = 'role' AND t.reviewer_ref IN (
               SELECT pm.role FROM project_members pm
               WHERE pm.project_id = s.project_id AND pm.user_id = {0}::uuid))
           OR (t.reviewer_kind = 'client' AND t.reviewer_ref = (
               SELECT u.client_id::text FROM users u WHERE u.id = {0}::uuid))))
    ELSE s.party_user = {0}::uuid END"""


async def submittal_page(conn: asyncpg.Connection, page: PageLike, project_id: uuid.UUID, *,
                         kind: str | None, status: str | None, overdue_on: dt.date | None,
                         ball_in_court: uuid.UUID | None) -> list[asyncpg.Record]:
    """One page of a project's submittals: of a kind and status; overdue on a day (a
    running review's earliest pending task due before it); in a user's court."""
    filters: list[Filter] = [
        ("s.project_id = {}::uuid", project_id),  # first: $1, which the source reads
        ("s.kind = {}", kind),
        ("s.status = {}", status),
        ("rv.review_status = 'in_progress' AND bt.task_due_on < {}", overdue_on),
        (_SUBMITTAL_BALL, ball_in_court),
    ]
    return await fetch_page(conn, _SUBMITTALS, filters, page, columns=SUBMITTAL_COLUMNS)


# The official answer's time: a primary-key lookup for each row the page keeps.
RFI_COLUMNS = """r.id, r.project_id, r.number, r.seq, r.subject, r.status, r.priority,
    r.discipline, r.location, r.due_on, r.cost_impact, r.schedule_impact, r.distribution,
    r.created_by, r.created_at, r.updated_at,
    (SELECT o.updated_at FROM rfi_responses o WHERE o.id = r.official_response_id)
    AS official_answer_at,
    CASE WHEN r.status IN ('closed', 'void') THEN r.updated_at END AS closed_at"""
# The same court as GET /rfis?ball_in_court= (db/queries/rfis.py).
_RFI_BALL = ("((r.status = 'open' AND {0} = ANY (r.distribution))"
             " OR (r.status = 'answered' AND r.created_by = {0}))")


async def rfi_page(conn: asyncpg.Connection, page: PageLike, project_id: uuid.UUID, *,
                   status: str | None, overdue_on: dt.date | None,
                   ball_in_court: uuid.UUID | None) -> list[asyncpg.Record]:
    """One page of a project's RFI log (filters as GET /rfis)."""
    return await fetch_page(conn, "rfis r", [
        ("r.project_id = {}", project_id),
        ("r.status = {}", status),
        ("r.status = 'open' AND r.due_on < {}", overdue_on),
        (_RFI_BALL, ball_in_court),
    ], page, columns=RFI_COLUMNS)
