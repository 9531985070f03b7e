"""What a review does to the record it reviews: starting one puts the record under review
(a submitted shop drawing goes in review), and its result moves the record's status through
the record's own state machine, each move a `transition` audit row naming the review.

The engine acts for the template: the reviewers' roles are not checked against the record's
workflow (a client company may decide), but the states are: a review starts only on a record
that is, or can go, under review, and every outcome must be one decision away from there.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

from db.queries import rows
from db.queries.events import record_transition
from db.queries.reviews import ENTITY_TABLES
from rules import reviews as rv
from rules.errors import InvalidInput, WrongState
from rules.workflows import drawings, specs
from rules.workflows.machine import Workflow

WORKFLOWS: Mapping[str, Workflow] = {"shop_drawing": drawings.WORKFLOW,
                                     "material_spec": specs.WORKFLOW}
# The status a record is in while a review decides, and the actions that bring it there.
REVIEWING = {"shop_drawing": "in_review", "material_spec": "pending_approval"}
ENTER = {"shop_drawing": {"submitted": "start_review"}}


# The default review of each kind of record: today's single reviewer (any member holding
# the project_manager role), with the decisions the record's workflow has.
DEFAULT_OUTCOMES = {
    "shop_drawing": (("rejected", "rejected"), ("revise_and_resubmit", "revise_and_resubmit"),
                     ("approved_as_noted", "approved_as_noted"), ("approved", "approved")),
    "material_spec": (("rejected", "rejected"), ("revision_required", "revision_required"),
                      ("approved", "approved")),
}


def default_template(entity_type: str) -> rv.Template:
    return rv.single_reviewer_template("project_manager", DEFAULT_OUTCOMES[entity_type])


def decision(entity_type: str, target: str) -> str | None:
    """The action that takes a record under review to `target`, if one does."""
    source = REVIEWING[entity_type]
    for action, r in WORKFLOWS[entity_type].rules.items():
        if source in r.sources and r.target == target:
            return action
    return None


def check_outcomes(entity_type: str, template: rv.Template) -> None:
    for i, o in enumerate(template.outcomes):
        if decision(entity_type, o.status) is None:
            raise InvalidInput(
                f"outcome {o.label!r} maps to {o.status!r}, which a "
                f"{entity_type.replace('_', ' ')} under review cannot reach",
                code="invalid_outcome_status",
                errors=[{"field": f"outcomes[{i}].status", "message": "not a decision"}])


def _stamps(entity_type: str, action: str, user_id: uuid.UUID) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    if action == "start_review":
        return {"reviewed_by": user_id}
    if action in ("approve", "approve_as_noted"):
        return {"approved_by": user_id, "approved_at": now}
    return {}


async def _move(conn: asyncpg.Connection, entity_type: str, current: asyncpg.Record,
                action: str, user_id: uuid.UUID, comment: str | None,
                review_id: uuid.UUID) -> None:
    table = ENTITY_TABLES[entity_type]
    target = WORKFLOWS[entity_type].rules[action].target
    await rows.update_locked(conn, table, current["id"],
                             {"status": target, **_stamps(entity_type, action, user_id)})
    details: dict[str, Any] = {"action": action, "from": current["status"], "to": target,
                               "comment": comment, "review_id": str(review_id)}
    if "revision" in current.keys():
        details["revision"] = current["revision"]
    await record_transition(conn, table, current, user_id, details)


async def put_under_review(conn: asyncpg.Connection, entity_type: str, entity_id: uuid.UUID,
                           user_id: uuid.UUID, review_id: uuid.UUID) -> None:
    """Bring the record under review (409 when its state does not allow a review)."""
    current = await rows.lock_row(conn, ENTITY_TABLES[entity_type], entity_id)
    assert current is not None
    status = current["status"]
    if status == REVIEWING[entity_type]:
        return
    action = ENTER.get(entity_type, {}).get(status)
    if action is None:
        raise WrongState(f"a review starts on a record that is submitted or under review; "
                         f"this one is {status}", code="illegal_transition",
                         extra={"allowed_actions": []})
    await _move(conn, entity_type, current, action, user_id, None, review_id)


async def decide(conn: asyncpg.Connection, review: Mapping[str, Any], result: str,
                 target: str, user_id: uuid.UUID, comment: str | None) -> bool:
    """Move the record to the review's result; False (nothing moved) when the record has
    left review meanwhile (voided, say): the review keeps its result."""
    entity_type = review["entity_type"]
    current = await rows.lock_row(conn, ENTITY_TABLES[entity_type], review["entity_id"])
    action = decision(entity_type, target)
    if current is None or action is None or current["status"] != REVIEWING[entity_type]:
        return False
    await _move(conn, entity_type, current, action, user_id,
                comment or f"review result: {result}", review["id"])
    return True
