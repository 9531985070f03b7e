"""RFIs: their numbers, states and what each action needs (pure).

States `draft -> open -> answered -> closed`, `void` from any but closed, `reopen` from
answered back to open. An RFI is answered when one of its responses is marked official;
closing needs that official response.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules.errors import InvalidInput, WrongState

STATUSES = ("draft", "open", "answered", "closed", "void")
PRIORITIES = ("low", "normal", "high")
IMPACTS = ("yes", "no", "unknown")
# Working days from creation to the default due date: a project's `rfi_due_days`, which
# starts at this (the column's default, migration 0027).
DEFAULT_DAYS = 7
# action: (sources, target)
ACTIONS: dict[str, tuple[frozenset[str], str]] = {
    "open": (frozenset({"draft"}), "open"),
    "close": (frozenset({"answered"}), "closed"),
    "reopen": (frozenset({"answered"}), "open"),
    "void": (frozenset({"draft", "open", "answered"}), "void"),
}
RESPONDABLE = frozenset({"open", "answered"})


@dataclass(frozen=True)
class Move:
    action: str
    source: str
    target: str


def number(seq: int) -> str:
    """`RFI-001` ... `RFI-999`, `RFI-1000` ..."""
    return f"RFI-{seq:03d}"


def allowed_actions(status: str) -> list[str]:
    return [a for a, (sources, _) in ACTIONS.items() if status in sources]


def next_state(status: str, action: str, has_official: bool) -> Move:
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}", code="validation_failed",
                           errors=[{"field": "action", "message": "unknown action"}])
    sources, target = ACTIONS[action]
    if status not in sources:
        raise WrongState(f"an RFI that is {status} cannot {action}", code="illegal_transition",
                         extra={"allowed_actions": allowed_actions(status)})
    if action == "close" and not has_official:
        raise WrongState("an RFI closes with an official response", code="no_official_response",
                         extra={"allowed_actions": allowed_actions(status)})
    return Move(action, status, target)


def check_can_respond(status: str) -> None:
    if status not in RESPONDABLE:
        raise WrongState(f"an RFI that is {status} takes no responses",
                         code="illegal_transition", extra={"allowed_actions":
                                                           allowed_actions(status)})


def check_impacts(cost_impact: str, cost_amount: object, schedule_impact: str,
                  schedule_days: object) -> None:
    """An amount goes with a cost impact of `yes` only, days with a schedule impact of `yes`."""
    if cost_amount is not None and cost_impact != "yes":
        raise InvalidInput("cost_amount goes with cost_impact yes", code="validation_failed",
                           errors=[{"field": "cost_amount", "message": "needs cost_impact yes"}])
    if schedule_days is not None and schedule_impact != "yes":
        raise InvalidInput("schedule_days goes with schedule_impact yes",
                           code="validation_failed",
                           errors=[{"field": "schedule_days",
                                    "message": "needs schedule_impact yes"}])
