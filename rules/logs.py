"""The submittal log and the RFI log (pure): whose move a submittal is when no review runs,
when a record counts as closed, days open and working days overdue.

Every day here is a date in the project's zone: the caller passes `today` (and instants
already turned into that zone's dates).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from rules.calendar import Calendar
from rules.enums import DRAWING_STATUSES, SPEC_STATUSES
from rules.workflows import drawings

KINDS = ("shop_drawing", "material_spec")
SUBMITTAL_STATUSES = tuple(dict.fromkeys((*DRAWING_STATUSES, *SPEC_STATUSES)))
# Who holds the ball of a record no review is running on, by status (the workflow's party:
# see rules/workflows/notices.py); statuses left out hold no ball (closed).
DRAWING_PARTY: Mapping[str, str] = {
    s: p for s in DRAWING_STATUSES if (p := drawings.ball_in_court(s) or "")}
SPEC_PARTY: Mapping[str, str] = {"pending": "submitter", "revision_required": "submitter",
                                 "pending_approval": "reviewer"}
# The statuses in which a submittal is closed (no longer open for days_open).
DRAWING_CLOSED = frozenset(drawings.CLOSED)
SPEC_CLOSED = frozenset(SPEC_STATUSES) - frozenset(SPEC_PARTY)
RFI_CLOSED = frozenset({"closed", "void"})


def statuses_with(party: Mapping[str, str], who: str) -> tuple[str, ...]:
    return tuple(s for s, p in party.items() if p == who)


def days_open(opened: dt.date, closed: dt.date | None, today: dt.date) -> int:
    """Calendar days from the day it was opened to the day it closed (or today)."""
    return max(0, ((closed or today) - opened).days)


def working_days_late(cal: Calendar, due: dt.date | None, today: dt.date) -> int:
    """Working days in (due, today] (0 when not past due): arithmetic on whole weeks, so a
    date years back costs no more than one a week back."""
    if due is None or today <= due:
        return 0
    total = (today - due).days
    weeks, rest = divmod(total, 7)
    count = weeks * len(cal.workdays)
    day = due + dt.timedelta(days=weeks * 7)
    for _ in range(rest):
        day += dt.timedelta(days=1)
        count += day.isoweekday() in cal.workdays
    count -= sum(1 for h in cal.holidays
                 if due < h <= today and h.isoweekday() in cal.workdays)
    return count
