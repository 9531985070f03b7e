"""A table-driven state machine: the rules of one workflow and the checks they imply.

Checks run in the order the API promises: an unknown action is invalid input (422), a
role without the action's permission is refused (403) whatever the state, an action the
current state does not allow is a conflict (409) that names the allowed actions, and a
missing comment on an action that needs one is invalid input (422). The checks raise the
kinds of `rules.errors` (InvalidInput, NotPermitted, WrongState) that the server answers
with those statuses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rules.errors import InvalidInput, NotPermitted, WrongState
from rules.permissions import Perm, can


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
            raise InvalidInput(f"Unknown {self.noun} action", errors=[{
                "field": "action", "message": f"one of {', '.join(self.actions)}"}])
        if not can(role, found.perm):
            raise NotPermitted(f"Your role may not {action.replace('_', ' ')} a {self.noun}",
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
            raise WrongState(
                f"A {self.noun} in status {status} cannot {action.replace('_', ' ')}",
                code="illegal_transition",
                extra={"state": status, "allowed_actions": allowed})
        text = (comment or "").strip() or None
        if found.needs_comment and text is None:
            raise InvalidInput(f"A comment is required to {action.replace('_', ' ')}",
                          errors=[{"field": "comment", "message": f"required for {action}"}])
        return Transition(action, status, found.target, text)


@dataclass(frozen=True)
class EditLock:
    """Which states of a workflow have decided a record, and what may still change there.

    Once a decision is taken (approved, rejected, ordered, ...) the fields it was taken on
    are evidence: an edit would make the record claim a decision that nobody made. The
    way to change them is the workflow (e.g. a new revision), never a plain PATCH.
    """

    workflow: Workflow
    decided: frozenset[str]
    editable: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = self.decided - set(self.workflow.statuses)
        assert not unknown, f"{self.workflow.noun}: lock names unknown statuses {unknown}"

    def locked_fields(self, status: str, fields: Iterable[str]) -> list[str]:
        """The fields of a change that the record's status no longer lets anyone edit."""
        if status not in self.decided:
            return []
        return sorted(set(fields) - self.editable)

    def check_edit(self, status: str, fields: Iterable[str], role: str) -> None:
        """409 `record_locked` naming the locked fields and what the caller may do now."""
        locked = self.locked_fields(status, fields)
        if not locked:
            return
        noun = self.workflow.noun
        raise WrongState(
            f"A {noun} in status {status} is locked: {', '.join(locked)} can no longer be "
            "changed", code="record_locked",
            errors=[{"field": f, "message": f"locked while the {noun} is {status}"}
                    for f in locked],
            extra={"state": status, "locked_fields": locked,
                   "editable_fields": sorted(self.editable),
                   "allowed_actions": self.workflow.allowed_actions(status, role)})


def changed_fields(current: Mapping[str, Any], changes: Mapping[str, Any]) -> list[str]:
    """The keys of `changes` whose value differs from `current` (absent counts as differing):
    a client that sends back a whole form with one field edited edits that one field."""
    return [k for k, v in changes.items() if k not in current or current[k] != v]
