"""The material-spec state machine, exhaustively: every status x action x role."""

from __future__ import annotations

import itertools

import pytest

from rules.enums import ROLES, SPEC_STATUSES
from rules.errors import InvalidInput, NotPermitted, WrongState
from rules.workflows import specs

EXPECTED = {  # action -> (from statuses, to status)
    "submit": ({"pending", "revision_required"}, "pending_approval"),
    "approve": ({"pending_approval"}, "approved"),
    # An approved spec up to delivered can be returned (wrong material on site, ...).
    "request_revision": ({"pending_approval", "approved", "ordered", "in_stock", "delivered"},
                         "revision_required"),
    "reject": ({"pending_approval"}, "rejected"),
    "order": ({"approved"}, "ordered"),
    "receive": ({"ordered"}, "in_stock"),
    "deliver": ({"in_stock"}, "delivered"),
    "use": ({"delivered"}, "used"),
}
DECISIONS = {"approve", "request_revision", "reject"}
ROLE_ACTIONS = {
    "admin": set(EXPECTED),
    "project_manager": set(EXPECTED),
    "designer": set(EXPECTED) - DECISIONS,
    "coordinator": set(EXPECTED) - DECISIONS,
    "craftsman": set(),
    "client": set(),
}
NEEDS_COMMENT = {"reject", "request_revision"}


def test_tables_cover_the_schema() -> None:
    assert set(ROLE_ACTIONS) == set(ROLES)
    assert specs.ACTIONS == tuple(EXPECTED)


@pytest.mark.parametrize(("status", "action", "role"),
                         list(itertools.product(SPEC_STATUSES, EXPECTED, ROLES)))
def test_every_status_action_role(status: str, action: str, role: str) -> None:
    sources, target = EXPECTED[action]
    if action not in ROLE_ACTIONS[role]:
        with pytest.raises(NotPermitted):
            specs.next_state(status, action, role, "why")
        return
    if status not in sources:
        with pytest.raises(WrongState) as caught:
            specs.next_state(status, action, role, "why")
        assert caught.value.extra["allowed_actions"] == specs.allowed_actions(status, role)
        assert caught.value.extra["state"] == status and "status" not in caught.value.extra
        return
    step = specs.next_state(status, action, role, "why")
    assert (step.source, step.target, step.comment) == (status, target, "why")
    if action in NEEDS_COMMENT:
        with pytest.raises(InvalidInput):
            specs.next_state(status, action, role, None)
    else:
        assert specs.next_state(status, action, role).target == target


@pytest.mark.parametrize(("status", "role"), list(itertools.product(SPEC_STATUSES, ROLES)))
def test_allowed_actions(status: str, role: str) -> None:
    expected = [a for a, (sources, _) in EXPECTED.items()
                if status in sources and a in ROLE_ACTIONS[role]]
    assert specs.allowed_actions(status, role) == expected


def test_terminal_states() -> None:
    for status in ("rejected", "used"):
        assert specs.allowed_actions(status, "admin") == []


def test_happy_path_walks_to_used() -> None:
    status = "pending"
    for action in ("submit", "request_revision", "submit", "approve", "order", "receive",
                   "deliver", "use"):
        status = specs.next_state(status, action, "project_manager", "ok").target
    assert status == "used"
