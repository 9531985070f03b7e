"""Order-by and submit-by across weekends and holidays, and each at-risk rule on and off."""

from __future__ import annotations

import datetime as dt

import pytest

from rules.calendar import make_calendar
from rules.errors import InvalidInput, WrongState
from rules.procurement import (
    Schedule,
    check_delivery,
    last_working_day,
    risks,
    risks_of,
    schedule,
)

D = dt.date
# 2026-12: Mon 7, Fri 11, Sat 12, Sun 13, Mon 14 ... Fri 25 a holiday.
CAL = make_calendar("Europe/Istanbul", (1, 2, 3, 4, 5), [D(2026, 12, 25), D(2026, 12, 9)])


def test_order_by_is_on_site_less_lead_time_back_to_a_working_day() -> None:
    # On site Mon 21 Dec, 7 days: Mon 14 (a working day).
    assert schedule(CAL, D(2026, 12, 21), 7, None, None) == Schedule(D(2026, 12, 14),
                                                                     D(2026, 12, 14))
    # 8 days: Sun 13 -> Fri 11; 9 days: Sat 12 -> Fri 11.
    assert schedule(CAL, D(2026, 12, 21), 8, 0, 0).order_by == D(2026, 12, 11)
    assert schedule(CAL, D(2026, 12, 21), 9, 0, 0).order_by == D(2026, 12, 11)
    # A holiday: Wed 9 Dec -> Tue 8.
    assert schedule(CAL, D(2026, 12, 21), 12, 0, 0).order_by == D(2026, 12, 8)
    # Christmas on a Friday, then the weekend: on site Mon 28, lead 1 -> Sun 27 -> Thu 24.
    assert schedule(CAL, D(2026, 12, 28), 1, 0, 0).order_by == D(2026, 12, 24)
    assert last_working_day(CAL, D(2026, 12, 27)) == D(2026, 12, 24)


def test_submit_by_counts_review_days_in_working_days() -> None:
    # Order by Mon 14; 2 + 1 review days back: Fri 11, Thu 10, (Wed 9 a holiday) Tue 8.
    plan = schedule(CAL, D(2026, 12, 21), 7, 2, 1)
    assert plan == Schedule(D(2026, 12, 14), D(2026, 12, 8))
    # Over Christmas: order by Thu 31, 5 working days back skips 25 and the weekend.
    plan = schedule(CAL, D(2026, 12, 31), 0, 5, None)
    assert plan == Schedule(D(2026, 12, 31), D(2026, 12, 23))


def test_unknown_dates_give_no_schedule_and_bad_durations_are_refused() -> None:
    assert schedule(CAL, None, 7, 1, 1) == Schedule(None, None)
    assert schedule(CAL, D(2026, 12, 21), None, 1, 1) == Schedule(None, None)
    for bad in (-3, 3651, True):
        with pytest.raises(InvalidInput) as caught:
            schedule(CAL, D(2026, 12, 21), bad, 0, 0)  # type: ignore[arg-type]
        assert caught.value.errors[0]["field"] == "lead_time_days"
    with pytest.raises(InvalidInput):
        schedule(CAL, D(2026, 12, 21), 1, -1, 0)


def _spec(**values: object) -> dict[str, object]:
    base: dict[str, object] = {
        "required_on_site": D(2026, 12, 21), "lead_time_days": 7, "design_review_days": 2,
        "internal_review_days": 1, "expected_delivery_on": None, "status": "pending",
        "delivery_status": None}
    return base | values


def test_submit_overdue_on_and_off() -> None:
    # submit-by Tue 8.
    assert risks_of(CAL, D(2026, 12, 8), _spec()) == ()
    assert risks_of(CAL, D(2026, 12, 9), _spec()) == ("submit_overdue",)
    assert risks_of(CAL, D(2026, 12, 9), _spec(status="pending_approval")) == ("submit_overdue",)
    assert risks_of(CAL, D(2026, 12, 9), _spec(status="approved")) == ()
    # Later on site: the rule is off again.
    assert risks_of(CAL, D(2026, 12, 9), _spec(required_on_site=D(2027, 1, 29))) == ()


def test_order_overdue_on_and_off() -> None:
    # order-by Mon 14.
    assert risks_of(CAL, D(2026, 12, 14), _spec(status="approved")) == ()
    assert risks_of(CAL, D(2026, 12, 15), _spec(status="approved")) == ("order_overdue",)
    assert risks_of(CAL, D(2026, 12, 15), _spec()) == ("submit_overdue", "order_overdue")
    assert risks_of(CAL, D(2026, 12, 15), _spec(status="ordered")) == ()
    assert risks_of(CAL, D(2026, 12, 15), _spec(status="ordered",
                                                delivery_status="shipped")) == ()


def test_delivery_late_on_and_off() -> None:
    late = _spec(status="ordered", expected_delivery_on=D(2026, 12, 22))
    assert risks_of(CAL, D(2026, 12, 1), late) == ("delivery_late",)
    assert risks_of(CAL, D(2026, 12, 1), late | {"expected_delivery_on": D(2026, 12, 21)}) == ()
    assert risks_of(CAL, D(2026, 12, 1), late | {"delivery_status": "delivered"}) == ()
    assert risks_of(CAL, D(2026, 12, 1), late | {"status": "in_stock"}) == ()
    assert risks(D(2026, 12, 1), Schedule(None, None), "ordered", None, None,
                 D(2026, 12, 22)) == ()


def test_delivery_status_never_contradicts_the_workflow() -> None:
    for status in ("pending", "pending_approval", "approved", "revision_required", "rejected"):
        with pytest.raises(WrongState) as caught:
            check_delivery(status, None, "received")
        assert caught.value.code == "not_ordered"
    check_delivery("ordered", None, "ordered")
    check_delivery("ordered", "ordered", "shipped")  # a step may be skipped
    check_delivery("in_stock", "shipped", "received")
    with pytest.raises(WrongState):
        check_delivery("ordered", "shipped", "in_fabrication")
    with pytest.raises(WrongState):
        check_delivery("ordered", "shipped", "shipped")
    with pytest.raises(InvalidInput):
        check_delivery("ordered", None, "lost")
