"""The edit lock of decided records: every status x field, for specs and drawings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rules.enums import DRAWING_STATUSES, ROLES, SPEC_STATUSES
from rules.errors import WrongState
from rules.workflows import drawings, specs
from rules.workflows.machine import EditLock, Workflow, changed_fields

SPEC_DECIDED = {"approved", "ordered", "in_stock", "delivered", "used", "rejected"}
SPEC_COMMITTED = ("description", "quantity", "unit", "unit_cost", "currency", "supplier_name",
                  "supplier_email", "manufacturer", "material", "specification", "code")
DRAWING_DECIDED = {"approved", "approved_as_noted", "revise_and_resubmit", "rejected", "void"}
DRAWING_FIELDS = ("drawing_number", "title", "drawing_type", "room", "notes", "scope_item_ids")


@pytest.mark.parametrize("status", SPEC_STATUSES)
@pytest.mark.parametrize("field", SPEC_COMMITTED)
def test_spec_committed_fields_lock_once_decided(status: str, field: str) -> None:
    expected = [field] if status in SPEC_DECIDED else []
    assert specs.LOCK.locked_fields(status, [field]) == expected


@pytest.mark.parametrize("status", SPEC_STATUSES)
def test_spec_notes_and_lead_time_stay_editable(status: str) -> None:
    assert specs.LOCK.locked_fields(status, ["notes", "lead_time_days"]) == []


@pytest.mark.parametrize("status", DRAWING_STATUSES)
@pytest.mark.parametrize("field", DRAWING_FIELDS)
def test_drawing_fields_lock_once_decided(status: str, field: str) -> None:
    expected = [field] if status in DRAWING_DECIDED else []
    assert drawings.LOCK.locked_fields(status, [field]) == expected


@pytest.mark.parametrize("role", ROLES)
def test_refusal_names_fields_and_next_steps(role: str) -> None:
    """The same answer for every role: holding a permission does not unlock a decision."""
    with pytest.raises(WrongState) as caught:
        specs.LOCK.check_edit("approved", ["unit_cost", "notes", "quantity"], role)
    problem = caught.value
    assert problem.code == "record_locked"  # answered as 409 (tests/server/test_rule_problems.py)
    assert problem.extra["locked_fields"] == ["quantity", "unit_cost"]
    assert problem.extra["editable_fields"] == [
        "design_review_days", "expected_delivery_on", "internal_review_days", "lead_time_days",
        "notes", "required_on_site"]
    assert problem.extra["state"] == "approved"
    assert problem.extra["allowed_actions"] == specs.allowed_actions("approved", role)
    assert {e["field"] for e in problem.errors} == {"quantity", "unit_cost"}


def test_open_states_and_empty_changes_pass() -> None:
    specs.LOCK.check_edit("pending_approval", ["unit_cost"], "designer")
    specs.LOCK.check_edit("approved", [], "designer")
    drawings.LOCK.check_edit("draft", ["title"], "designer")


def test_a_lock_names_only_statuses_of_its_workflow() -> None:
    with pytest.raises(AssertionError):
        EditLock(Workflow("thing", ("open", "done"), []), frozenset({"gone"}))


def test_changed_fields_ignores_values_sent_back_unchanged() -> None:
    current = {"unit_cost": Decimal("1000.00"), "notes": "a", "quantity": None}
    changes = {"unit_cost": Decimal("1000"), "notes": "b", "quantity": None, "extra": 1}
    assert changed_fields(current, changes) == ["notes", "extra"]
