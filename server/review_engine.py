"""The review engine between rows and rules: a review's rows as `rules.reviews` values, and
what a decision of the rules writes (tasks closed, skipped or opened, the review advanced
or finished). Each write is one row update carrying its comment, so one audit row each."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import asyncpg

from db.queries import reviews as queries
from db.queries.events import record_transition
from db.queries.notifications import notify
from db.queries.projects import project_refs
from db.queries.transmittals import readers_of
from rules import reviews as rv
from rules.calendar import Calendar
from rules.enums import DRAWING_STATUSES, SPEC_STATUSES
from server import review_records as records
from server.errors import Invalid

STATUSES: Mapping[str, tuple[str, ...]] = {"shop_drawing": DRAWING_STATUSES,
                                           "material_spec": SPEC_STATUSES}
ANY_STATUS = frozenset(DRAWING_STATUSES) | frozenset(SPEC_STATUSES)


def template_of(row: Mapping[str, Any]) -> rv.Template:
    """A template (or a review's copy of one) from its stored outcomes and steps."""
    return rv.parse_template(row["outcomes"], row["steps"])


def template_json(t: rv.Template) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The checked template as it is stored (outcomes, steps)."""
    outcomes = [{"label": o.label, "status": o.status} for o in t.outcomes]
    steps = [{"name": s.name, "rule": s.rule, "days": s.days,
              **({"count": s.count} if s.count is not None else {}),
              "reviewers": [{"kind": r.kind, "ref": r.ref, "required": r.required}
                            for r in s.reviewers]} for s in t.steps]
    return outcomes, steps


def task_of(row: Mapping[str, Any]) -> rv.Task:
    assigned = row["assigned_at"]
    if isinstance(assigned, str):  # from a JSON aggregate
        assigned = dt.datetime.fromisoformat(assigned)
    due = row["due_on"]
    if isinstance(due, str):
        due = dt.date.fromisoformat(due)
    return rv.Task(row["id"], row["step"],
                   rv.Reviewer(row["reviewer_kind"], row["reviewer_ref"], row["required"]),
                   row["state"], row["outcome"], assigned, due)


def new_task_values(tasks: Iterable[rv.NewTask]) -> list[dict[str, Any]]:
    return [{"step": t.step, "reviewer_kind": t.reviewer.kind, "reviewer_ref": t.reviewer.ref,
             "required": t.reviewer.required, "due_on": t.due} for t in tasks]


async def check_reviewers(conn: asyncpg.Connection, project_id: uuid.UUID,
                          steps: Iterable[tuple[str, rv.Reviewer]]) -> None:
    """Every named user or client company (`(field, reviewer)` pairs) has someone who can
    read the project; a role may have no member yet. 422 on the field otherwise."""
    project = await project_refs(conn, project_id)
    assert project is not None
    for where, reviewer in steps:
        if reviewer.kind == "role":
            continue
        users = await queries.reviewer_users(conn, project_id, reviewer.kind, reviewer.ref)
        if not await readers_of(conn, project, users):
            raise Invalid("A reviewer must be able to read the project",
                          code="recipient_cannot_read",
                          errors=[{"field": where, "message": "cannot read the project"}])


async def tell_reviewers(conn: asyncpg.Connection, review: Mapping[str, Any],
                         tasks: Iterable[rv.NewTask], actor_id: uuid.UUID) -> None:
    """An "action required" notification to everyone who may answer a new task (and can
    read the project), the actor aside."""
    project = await project_refs(conn, review["project_id"])
    if project is None:
        return
    for task in tasks:
        users = await queries.reviewer_users(conn, review["project_id"], task.reviewer.kind,
                                             task.reviewer.ref)
        readers = await readers_of(conn, project, users) - {actor_id}
        if readers:
            await notify(conn, org_id=review["org_id"], user_ids=sorted(readers),
                         project_id=review["project_id"], kind="review_task",
                         title=f"Review: {review['name']}, answer due {task.due.isoformat()}",
                         message=f"{review['entity_type'].replace('_', ' ')} awaits your review",
                         data={"review_id": str(review["id"]),
                               "entity_type": review["entity_type"],
                               "entity_id": str(review["entity_id"]),
                               "due_on": task.due.isoformat()})


async def trail(conn: asyncpg.Connection, table: str, row: Mapping[str, Any],
                user_id: uuid.UUID, action: str, source: Any, target: Any,
                comment: str | None, **more: Any) -> None:
    """The document-control trail (ISO 19650): a `transition` audit row with from, to,
    actor, time and reason, beside the trigger's row of the change itself."""
    await record_transition(conn, table, row, user_id, {
        "action": action, "from": source, "to": target, "comment": comment, **more})


async def apply(conn: asyncpg.Connection, review: asyncpg.Record, adv: rv.Advance,
                comment: str | None, user_id: uuid.UUID) -> None:
    """Write what the rules decided after a response or a skip."""
    await queries.set_tasks_state(conn, list(adv.close), "closed", None)
    await queries.set_tasks_state(conn, list(adv.skipped), "skipped", comment)
    if not adv.step_complete:
        return
    step = review["current_step"]
    if adv.skipped or adv.step_outcome is None:
        await trail(conn, "reviews", review, user_id, "skip", step, None, comment)
    if adv.finished:
        await queries.set_review(conn, review["id"], {
            "status": "completed", "result": adv.result, "result_status": adv.status,
            "finished_at": dt.datetime.now(dt.UTC), "comment": comment})
        await trail(conn, "reviews", review, user_id, "complete", "in_progress", "completed",
                    comment, result=adv.result)
        if adv.result is not None and adv.status is not None:
            await records.decide(conn, review, adv.result, adv.status, user_id, comment)
        return
    await queries.add_tasks(conn, review, new_task_values(adv.opened))
    await tell_reviewers(conn, review, adv.opened, user_id)
    await queries.set_review(conn, review["id"], {"current_step": step + 1,
                                                  "comment": comment})
    await trail(conn, "reviews", review, user_id, "advance", step, step + 1, comment,
                outcome=adv.step_outcome)


async def actor_of(conn: asyncpg.Connection, user_id: uuid.UUID, client_id: uuid.UUID | None,
                   project_id: uuid.UUID) -> rv.Actor:
    """The caller as the rules see a reviewer: their id, roles on the team, client company."""
    roles = await queries.member_roles(conn, project_id, user_id)
    return rv.Actor(str(user_id), roles, str(client_id) if client_id is not None else None)


async def check_attach(conn: asyncpg.Connection, task_id: uuid.UUID, user_id: uuid.UUID,
                       client_id: uuid.UUID | None) -> None:
    """A file may hang off a (visible) review task when the caller may answer it and it is
    still pending: 403 / 409 otherwise (the attachments route asks before storing)."""
    task = await queries.task(conn, task_id)
    assert task is not None  # the caller has just found it
    review_state = await queries.review_status(conn, task["review_id"])
    who = await actor_of(conn, user_id, client_id, task["project_id"])
    rv.check_attach(review_state or "", task_of(task), who)


def ball_in_court(tasks: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{"kind": h.kind, "ref": h.ref, "since": h.since, "due_on": h.due,
             "task_id": h.task_id} for h in rv.ball_in_court(task_of(t) for t in tasks)]


def review_out(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["ball_in_court"] = ball_in_court(out.get("tasks") or [])
    return out


async def advance(conn: asyncpg.Connection, review: asyncpg.Record, cal: Calendar,
                  on: dt.date, comment: str | None, user_id: uuid.UUID) -> None:
    """After a response: complete the step when its rule is met, and so on."""
    tasks = [task_of(t) for t in await queries.tasks_of(conn, review["id"])]
    adv = rv.advance(template_of(review), review["current_step"], tasks, on, cal)
    await apply(conn, review, adv, comment, user_id)


async def skip(conn: asyncpg.Connection, review: asyncpg.Record, cal: Calendar, on: dt.date,
               comment: str | None, user_id: uuid.UUID) -> None:
    tasks = [task_of(t) for t in await queries.tasks_of(conn, review["id"])]
    adv = rv.skip(template_of(review), review["status"], review["current_step"], tasks, on, cal)
    await apply(conn, review, adv, comment, user_id)
