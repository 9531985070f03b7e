"""A table-driven state machine: the rules of one workflow and the checks they imply.

Checks run in the order the API promises: an unknown action is invalid input (422), a
role without the action's permission is refused (403) whatever the state, an action the
current state does not allow is a conflict (409) that names the allowed actions, and a
missing comment on an action that needs one is invalid input (422).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from server.auth.permissions import Perm, can
from server.errors import Conflict, Forbidden, Invalid


@dataclass(frozen=True)
class Rule:
    """`action` moves a record from any of `sources` to `target`; `perm` may perform it."""

    action: str
    sources: frozenset[str]
    target: str
    perm: Perm
    needs_comment: bool = False


@dataclass(frozen=True)
class Transition:
    """A checked step: what to write and what to put on the audit trail."""

    action: str
    source: str
    target: str
    comment: str | None


def rule(action: str, sources: Iterable[str], target: str, perm: Perm,
         needs_comment: bool = False) -> Rule:
    return Rule(action, frozenset(sources), target, perm, needs_comment)


class Workflow:
    """The rules of one kind of record, keyed by action."""

    def __init__(self, noun: str, statuses: Sequence[str], rules: Sequence[Rule]) -> None:
        self.noun = noun
        self.statuses = tuple(statuses)
        self.rules = {r.action: r for r in rules}
        for r in rules:
            unknown = (r.sources | {r.target}) - set(self.statuses)
            assert not unknown, f"{noun}: {r.action} names unknown statuses {unknown}"

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(self.rules)

    def may(self, action: str, role: str) -> bool:
        """Whether `role` may ever perform `action` (in some state)."""
        found = self.rules.get(action)
        return found is not None and can(role, found.perm)

    def check_role(self, action: str, role: str) -> Rule:
        """The rule of `action`, or 422 (unknown action) / 403 (role may not)."""
        found = self.rules.get(action)
        if found is None:
            raise Invalid(f"Unknown {self.noun} action", errors=[{
                "field": "action", "message": f"one of {', '.join(self.actions)}"}])
        if not can(role, found.perm):
            raise Forbidden(f"Your role may not {action.replace('_', ' ')} a {self.noun}",
                            code="insufficient_permissions")
        return found

    def allowed_actions(self, status: str, role: str) -> list[str]:
        """The actions `role` may perform now, in the workflow's order."""
        return [a for a, r in self.rules.items() if status in r.sources and can(role, r.perm)]

    def next_state(self, status: str, action: str, role: str,
                   comment: str | None = None) -> Transition:
        """Check one step; raise 422, 403, 409 or 422 (comment) in that order."""
        found = self.check_role(action, role)
        if status not in found.sources:
            allowed = self.allowed_actions(status, role)
            raise Conflict(
                f"A {self.noun} in status {status} cannot {action.replace('_', ' ')}",
                code="illegal_transition",
                extra={"state": status, "allowed_actions": allowed})
        text = (comment or "").strip() or None
        if found.needs_comment and text is None:
            raise Invalid(f"A comment is required to {action.replace('_', ' ')}",
                          errors=[{"field": "comment", "message": f"required for {action}"}])
        return Transition(action, status, found.target, text)
