"""The shop-drawing state machine, exhaustively: every status x action x role."""

from __future__ import annotations

import itertools

import pytest

from rules.enums import DRAWING_STATUSES, ROLES
from rules.errors import InvalidInput, NotPermitted, WrongState
from rules.workflows import drawings

# The contract, written out independently of the implementation's rule table.
EXPECTED = {  # action -> (from statuses, to status)
    "submit": ({"draft"}, "submitted"),
    "start_review": ({"submitted"}, "in_review"),
    "approve": ({"in_review"}, "approved"),
    "approve_as_noted": ({"in_review"}, "approved_as_noted"),
    "request_revision": ({"in_review"}, "revise_and_resubmit"),
    "reject": ({"in_review"}, "rejected"),
    "new_revision": ({"revise_and_resubmit", "rejected"}, "draft"),
    "void": ({"draft", "submitted", "in_review", "revise_and_resubmit", "rejected"}, "void"),
}
SUBMITTER_ACTIONS = {"submit", "new_revision"}
ROLE_ACTIONS = {
    "admin": set(EXPECTED),
    "project_manager": set(EXPECTED),
    "designer": SUBMITTER_ACTIONS,
    "coordinator": SUBMITTER_ACTIONS,
    "craftsman": set(),
    "client": set(),
}
NEEDS_COMMENT = {"reject", "request_revision", "void"}


def test_tables_cover_the_schema() -> None:
    assert set(ROLE_ACTIONS) == set(ROLES)
    assert drawings.ACTIONS == tuple(EXPECTED)


@pytest.mark.parametrize(("status", "action", "role"),
                         list(itertools.product(DRAWING_STATUSES, EXPECTED, ROLES)))
def test_every_status_action_role(status: str, action: str, role: str) -> None:
    sources, target = EXPECTED[action]
    if action not in ROLE_ACTIONS[role]:
        with pytest.raises(NotPermitted):  # the role is checked before the state
            drawings.next_state(status, action, role, "because")
        return
    if status not in sources:
        with pytest.raises(WrongState) as caught:
            drawings.next_state(status, action, role, "because")
        assert caught.value.code == "illegal_transition"  # answered as 409
        assert caught.value.extra["allowed_actions"] == drawings.allowed_actions(status, role)
        assert caught.value.extra["state"] == status and "status" not in caught.value.extra
        return
    step = drawings.next_state(status, action, role, " because ")
    assert (step.source, step.target, step.action, step.comment) == (
        status, target, action, "because")
    if action in NEEDS_COMMENT:
        for blank in (None, "", "   "):
            with pytest.raises(InvalidInput) as caught:
                drawings.next_state(status, action, role, blank)
            assert caught.value.errors[0]["field"] == "comment"
    else:
        assert drawings.next_state(status, action, role).comment is None


@pytest.mark.parametrize(("status", "role"), list(itertools.product(DRAWING_STATUSES, ROLES)))
def test_allowed_actions(status: str, role: str) -> None:
    expected = [a for a, (sources, _) in EXPECTED.items()
                if status in sources and a in ROLE_ACTIONS[role]]
    assert drawings.allowed_actions(status, role) == expected


def test_unknown_action_and_role() -> None:
    with pytest.raises(InvalidInput) as caught:
        drawings.next_state("draft", "publish", "admin")
    assert caught.value.errors[0]["field"] == "action"
    with pytest.raises(NotPermitted):
        drawings.next_state("draft", "submit", "intern")
    assert drawings.allowed_actions("draft", "intern") == []


def test_closed_states_allow_nothing() -> None:
    for status in ("approved", "approved_as_noted", "void"):
        for role in ROLES:
            assert drawings.allowed_actions(status, role) == []


@pytest.mark.parametrize(("status", "party"), [
    ("draft", "submitter"), ("revise_and_resubmit", "submitter"), ("rejected", "submitter"),
    ("submitted", "reviewer"), ("in_review", "reviewer"),
    ("approved", None), ("approved_as_noted", None), ("void", None),
])
def test_ball_in_court(status: str, party: str | None) -> None:
    assert drawings.ball_in_court(status) == party


@pytest.mark.parametrize(("label", "following"), [
    ("Rev A", "Rev B"), ("Rev B", "Rev C"), ("Rev Y", "Rev Z"), ("Rev Z", "Rev AA"),
    ("Rev AA", "Rev AB"), ("Rev AZ", "Rev BA"), ("Rev ZY", "Rev ZZ"),
])
def test_next_revision(label: str, following: str) -> None:
    assert drawings.next_revision(label) == following


def test_revision_labels_run_out_and_reject_nonsense() -> None:
    with pytest.raises(WrongState):
        drawings.next_revision("Rev ZZ")
    for bad in ("Rev ", "Rev a", "Rev 1", "Rev Ä", "Rev A-"):
        with pytest.raises(ValueError):
            drawings.next_revision(bad)


def test_every_label_is_distinct_and_valid() -> None:
    seen = ["Rev A"]
    while seen[-1] != "Rev ZZ":
        seen.append(drawings.next_revision(seen[-1]))
    assert len(seen) == len(set(seen)) == 26 + 26 * 26
