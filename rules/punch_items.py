"""The snag list (punch items): states, who may move a snag, pins, handover dates (pure).

States `draft -> initiated -> work_required -> ready_for_review -> ready_to_close -> closed`,
with `work_not_accepted` (the manager sends the work back to the assignee), `in_dispute`
(the assignee challenges the snag) and `not_accepted` (the final approver returns it to the
manager).

Who may do what is decided by the caller's part in the snag (its *parties*), not by a
permission of their role alone:

| action | from | to | party | comment |
|---|---|---|---|---|
| initiate | draft | initiated | manager | |
| start_work | initiated | work_required | assignee | |
| mark_ready | work_required, work_not_accepted | ready_for_review | assignee | |
| dispute | initiated, work_required, work_not_accepted | in_dispute | assignee | required |
| accept_work | ready_for_review, not_accepted | ready_to_close | manager | |
| reject_work | ready_for_review, not_accepted | work_not_accepted | manager | required |
| reinitiate | in_dispute | initiated | manager | required |
| close | ready_to_close | closed | final_approver | |
| not_accept | ready_to_close | not_accepted | final_approver | required |

The manager party: the snag's manager, and any org admin or project manager (role) of the
project; the assignee party: a user named among the assignees, or a client user of the
assignee company; the final approver party: the snag's final approver, and org admins.
Checks run in the order the API promises: unknown action 422, none of the action's parties
403 (whatever the state), the state 409 naming the caller's allowed actions, a missing
comment 422.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rules.errors import InvalidInput, NotPermitted, WrongState

STATUSES = ("draft", "initiated", "work_required", "ready_for_review", "ready_to_close",
            "closed", "work_not_accepted", "in_dispute", "not_accepted")
CATEGORIES = ("defect", "client_preference")
# Still to be dealt with: issued and not closed (a draft is nobody's snag yet).
OPEN = tuple(s for s in STATUSES if s not in ("draft", "closed"))
DEFAULT_DEFECTS_MONTHS = 12
MAX_WALK = 200  # pins in one walk request

MANAGER, ASSIGNEE, APPROVER = "manager", "assignee", "final_approver"
PARTIES = (MANAGER, ASSIGNEE, APPROVER)


@dataclass(frozen=True)
class Rule:
    action: str
    sources: frozenset[str]
    target: str
    party: str
    needs_comment: bool = False


def _rule(action: str, sources: tuple[str, ...], target: str, party: str,
          needs_comment: bool = False) -> Rule:
    return Rule(action, frozenset(sources), target, party, needs_comment)


RULES: dict[str, Rule] = {r.action: r for r in (
    _rule("initiate", ("draft",), "initiated", MANAGER),
    _rule("start_work", ("initiated",), "work_required", ASSIGNEE),
    _rule("mark_ready", ("work_required", "work_not_accepted"), "ready_for_review", ASSIGNEE),
    _rule("dispute", ("initiated", "work_required", "work_not_accepted"), "in_dispute",
          ASSIGNEE, needs_comment=True),
    _rule("accept_work", ("ready_for_review", "not_accepted"), "ready_to_close", MANAGER),
    _rule("reject_work", ("ready_for_review", "not_accepted"), "work_not_accepted", MANAGER,
          needs_comment=True),
    _rule("reinitiate", ("in_dispute",), "initiated", MANAGER, needs_comment=True),
    _rule("close", ("ready_to_close",), "closed", APPROVER),
    _rule("not_accept", ("ready_to_close",), "not_accepted", APPROVER, needs_comment=True),
)}
ACTIONS = tuple(RULES)
for _r in RULES.values():
    assert _r.sources | {_r.target} <= set(STATUSES), _r.action
# Whose move it is in each state (None: nobody's, closed).
BALL: dict[str, str | None] = {
    "draft": MANAGER, "initiated": ASSIGNEE, "work_required": ASSIGNEE,
    "work_not_accepted": ASSIGNEE, "ready_for_review": MANAGER, "in_dispute": MANAGER,
    "not_accepted": MANAGER, "ready_to_close": APPROVER, "closed": None,
}


@dataclass(frozen=True)
class Caller:
    """Who acts: user, role and client company (client users)."""

    user_id: uuid.UUID
    role: str
    client_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Move:
    action: str
    source: str
    target: str
    comment: str | None


def parties(caller: Caller, item: Mapping[str, Any]) -> frozenset[str]:
    """The parts the caller plays in the snag (see the module's table)."""
    found: set[str] = set()
    if caller.role in ("admin", "project_manager") or item.get("manager_id") == caller.user_id:
        found.add(MANAGER)
    if caller.user_id in (item.get("assignee_user_ids") or ()) or (
            caller.role == "client" and caller.client_id is not None
            and item.get("assignee_client_id") == caller.client_id):
        found.add(ASSIGNEE)
    if caller.role == "admin" or item.get("final_approver_id") == caller.user_id:
        found.add(APPROVER)
    if caller.role == "client":
        found.discard(MANAGER)  # a client user never manages a snag
    return frozenset(found)


def allowed_actions(status: str, held: frozenset[str]) -> list[str]:
    return [a for a, r in RULES.items() if status in r.sources and r.party in held]


def check_party(action: str, held: frozenset[str]) -> Rule:
    """The rule of `action`: 422 when there is none, 403 when the caller is not its party."""
    found = RULES.get(action)
    if found is None:
        raise InvalidInput("Unknown punch item action", errors=[{
            "field": "action", "message": f"one of {', '.join(ACTIONS)}"}])
    if found.party not in held:
        raise NotPermitted(f"Only the punch item's {found.party.replace('_', ' ')} may "
                           f"{action.replace('_', ' ')}", code="insufficient_permissions",
                           extra={"required_party": found.party})
    return found


def next_state(status: str, action: str, held: frozenset[str],
               comment: str | None = None) -> Move:
    """Check one step: 422 (unknown action), 403 (not the action's party), 409 (state),
    422 (comment)."""
    found = check_party(action, held)
    if status not in found.sources:
        raise WrongState(f"A punch item in status {status} cannot {action.replace('_', ' ')}",
                         code="illegal_transition",
                         extra={"state": status,
                                "allowed_actions": allowed_actions(status, held)})
    text = (comment or "").strip() or None
    if found.needs_comment and text is None:
        raise InvalidInput(f"A comment is required to {action.replace('_', ' ')}",
                           errors=[{"field": "comment", "message": f"required for {action}"}])
    return Move(action, status, found.target, text)


def check_assigned(action: str, item: Mapping[str, Any]) -> None:
    """A snag is initiated (or re-initiated) only when someone is to do the work."""
    if action in ("initiate", "reinitiate") and not item.get("assignee_user_ids") \
            and item.get("assignee_client_id") is None:
        raise InvalidInput("Name an assignee (a user or a client company) first",
                           code="no_assignee", errors=[{
                               "field": "assignee_user_ids", "message": "no assignee"}])


def is_overdue(status: str, due_on: dt.date | None, today: dt.date) -> bool:
    return status in OPEN and due_on is not None and due_on < today


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later (the month's last day when it has fewer days)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    last = (following - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def defects_period_end(practical_completion: dt.date | None,
                       months: int | None) -> dt.date | None:
    """The end of the defects liability period: practical completion plus its months."""
    if practical_completion is None:
        return None
    return add_months(practical_completion,
                      DEFAULT_DEFECTS_MONTHS if months is None else months)
