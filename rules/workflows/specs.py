"""The material-specification workflow: approval, then procurement.

pending -> pending_approval -> approved | revision_required | rejected;
revision_required -> pending_approval; approved -> ordered -> in_stock -> delivered -> used.
An approved spec (up to delivered: wrong material on site, a supplier that cannot deliver)
can be returned to revision_required by whoever approves specs, with a comment; its delivery
status is then cleared (rules/procurement.py).
A decided spec (approved and after, or rejected) keeps what was decided: see `LOCK`.
Approval decisions need APPROVE_MATERIALS; submitting needs SUBMIT_MATERIALS; the
procurement steps need MANAGE_MATERIALS.
"""

from __future__ import annotations

from rules.enums import SPEC_STATUSES
from rules.permissions import Perm
from rules.workflows.machine import EditLock, Transition, Workflow, rule

ACTIONS = ("submit", "approve", "request_revision", "reject", "order", "receive", "deliver",
           "use")
APPROVED = ("approved", "ordered", "in_stock", "delivered", "used")
DELETABLE = ("pending", "pending_approval", "revision_required", "rejected")

_SUBMIT, _APPROVE, _MANAGE = Perm.SUBMIT_MATERIALS, Perm.APPROVE_MATERIALS, Perm.MANAGE_MATERIALS

WORKFLOW = Workflow("material spec", SPEC_STATUSES, [
    rule("submit", ["pending", "revision_required"], "pending_approval", _SUBMIT),
    rule("approve", ["pending_approval"], "approved", _APPROVE),
    rule("request_revision", ["pending_approval", "approved", "ordered", "in_stock", "delivered"],
         "revision_required", _APPROVE, needs_comment=True),
    rule("reject", ["pending_approval"], "rejected", _APPROVE, needs_comment=True),
    rule("order", ["approved"], "ordered", _MANAGE),
    rule("receive", ["ordered"], "in_stock", _MANAGE),
    rule("deliver", ["in_stock"], "delivered", _MANAGE),
    rule("use", ["delivered"], "used", _MANAGE),
])
assert WORKFLOW.actions == ACTIONS

# Approval fixes what is bought, how much, from whom and at what price; procurement then
# goes on, so its schedule (lead time, dates, review durations) and the free-text notes
# stay editable. `revision_required`
# is the one decision that asks for edits.
LOCK = EditLock(WORKFLOW, frozenset({*APPROVED, "rejected"}),
                editable=frozenset({"notes", "lead_time_days", "required_on_site",
                                    "design_review_days", "internal_review_days",
                                    "expected_delivery_on"}))


def next_state(status: str, action: str, role: str, comment: str | None = None) -> Transition:
    return WORKFLOW.next_state(status, action, role, comment)


def allowed_actions(status: str, role: str) -> list[str]:
    return WORKFLOW.allowed_actions(status, role)
