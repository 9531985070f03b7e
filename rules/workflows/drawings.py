"""The shop-drawing submittal workflow, ball in court and revision labels.

draft -> submitted -> in_review -> approved | approved_as_noted | revise_and_resubmit |
rejected; `new_revision` reopens a returned drawing as the next revision in draft; `void`
closes any open drawing. Designers and coordinators submit and open revisions; project
managers and admins may do everything; craftsmen and clients nothing. A decided drawing
is not edited: see `LOCK`.
"""

from __future__ import annotations

from typing import Literal

from rules.enums import DRAWING_STATUSES
from rules.errors import WrongState
from rules.permissions import Perm
from rules.workflows.machine import EditLock, Transition, Workflow, rule

OPEN = ("draft", "submitted", "in_review", "revise_and_resubmit", "rejected")
CLOSED = ("approved", "approved_as_noted", "void")
APPROVED = ("approved", "approved_as_noted")
ACTIONS = ("submit", "start_review", "approve", "approve_as_noted", "request_revision",
           "reject", "new_revision", "void")

_SUBMIT, _REVIEW = Perm.SUBMIT_DRAWINGS, Perm.REVIEW_DRAWINGS

WORKFLOW = Workflow("shop drawing", DRAWING_STATUSES, [
    rule("submit", ["draft"], "submitted", _SUBMIT),
    rule("start_review", ["submitted"], "in_review", _REVIEW),
    rule("approve", ["in_review"], "approved", _REVIEW),
    rule("approve_as_noted", ["in_review"], "approved_as_noted", _REVIEW),
    rule("request_revision", ["in_review"], "revise_and_resubmit", _REVIEW, needs_comment=True),
    rule("reject", ["in_review"], "rejected", _REVIEW, needs_comment=True),
    rule("new_revision", ["revise_and_resubmit", "rejected"], "draft", _SUBMIT),
    rule("void", OPEN, "void", _REVIEW, needs_comment=True),
])
assert WORKFLOW.actions == ACTIONS

# Every reviewer's decision (and void) freezes the revision it was taken on; a returned
# drawing changes only through `new_revision`, which keeps the decided one in history.
DECIDED = ("approved", "approved_as_noted", "revise_and_resubmit", "rejected", "void")
LOCK = EditLock(WORKFLOW, frozenset(DECIDED))

Party = Literal["submitter", "reviewer"]


def next_state(status: str, action: str, role: str, comment: str | None = None) -> Transition:
    return WORKFLOW.next_state(status, action, role, comment)


def allowed_actions(status: str, role: str) -> list[str]:
    return WORKFLOW.allowed_actions(status, role)


def ball_in_court(status: str) -> Party | None:
    """Whose move it is: the submitter's while the drawing is with them, the reviewer's
    while it is under review, nobody's once it is closed."""
    if status in ("draft", "revise_and_resubmit", "rejected"):
        return "submitter"
    if status in ("submitted", "in_review"):
        return "reviewer"
    return None


def next_revision(label: str) -> str:
    """`Rev A` -> `Rev B`, `Rev Z` -> `Rev AA`, `Rev AZ` -> `Rev BA`; `Rev ZZ` is the last."""
    letters = label.removeprefix("Rev ").strip()
    if not letters or not letters.isascii() or not letters.isalpha() or not letters.isupper():
        raise ValueError(f"not a revision label: {label!r}")
    number = 0
    for ch in letters:  # bijective base 26: A=1 ... Z=26, AA=27
        number = number * 26 + (ord(ch) - ord("A") + 1)
    number += 1
    out = ""
    while number:
        number, rem = divmod(number - 1, 26)
        out = chr(ord("A") + rem) + out
    if len(out) > 2:
        raise WrongState("This drawing has used every revision label up to Rev ZZ",
                          code="revisions_exhausted")
    return f"Rev {out}"
