"""The logs' day counts (pure): working days late by whole weeks agree with counting day by
day, holidays and odd working weeks included; days open."""

from __future__ import annotations

import datetime as dt
import random

from rules.calendar import make_calendar, working_days_between
from rules.logs import DRAWING_PARTY, SPEC_CLOSED, days_open, working_days_late


def test_working_days_late_agrees_with_counting_day_by_day() -> None:
    rng = random.Random(23)
    start = dt.date(2026, 1, 1)
    for _ in range(300):
        workdays = rng.sample(range(1, 8), rng.randint(1, 7))
        holidays = [start + dt.timedelta(days=rng.randint(0, 400)) for _ in range(20)]
        cal = make_calendar("UTC", workdays, [h.isoformat() for h in holidays])
        due = start + dt.timedelta(days=rng.randint(0, 200))
        today = due + dt.timedelta(days=rng.randint(-10, 200))
        expected = max(0, working_days_between(cal, due, today))
        assert working_days_late(cal, due, today) == expected, (workdays, due, today)
    assert working_days_late(make_calendar(), None, start) == 0


def test_days_open_and_parties() -> None:
    opened = dt.date(2026, 3, 1)
    assert days_open(opened, None, dt.date(2026, 3, 11)) == 10
    assert days_open(opened, dt.date(2026, 3, 4), dt.date(2026, 3, 11)) == 3
    assert days_open(opened, None, dt.date(2026, 2, 1)) == 0  # a clock behind: never negative
    assert DRAWING_PARTY["rejected"] == "submitter" and "approved" not in DRAWING_PARTY
    assert "rejected" in SPEC_CLOSED and "pending_approval" not in SPEC_CLOSED
