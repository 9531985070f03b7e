"""Working days in a time zone: due dates N working days on, "today" where the project is,
due today / tomorrow / overdue.

Pure: the caller passes the clock (`now`, an aware datetime) and the zone (a `tzinfo`, built
by the server from its IANA name; building one reads the tz database, which is I/O). Every
"day" is a date in the project's zone, never the server's.

A due date N working days after a day is the N-th working day after it (the day itself not
counted), so a task given on Friday with 1 working day is due on Monday. With N = 0 it is the
day itself, rolled forward to the next working day when the day is not one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from rules.errors import InvalidInput

WEEKDAYS = (1, 2, 3, 4, 5, 6, 7)  # ISO: Monday 1 ... Sunday 7
DEFAULT_ZONE = "UTC"
DEFAULT_WORKDAYS = (1, 2, 3, 4, 5)
HOLIDAYS_MAX = 1000
DAYS_MAX = 3650  # the most working days one may count (ten years of them)
DUE_STATES = ("overdue", "due_today", "due_tomorrow", "upcoming")
# An IANA zone name's shape (`Europe/Istanbul`, `UTC`, `America/Argentina/Buenos_Aires`,
# `Etc/GMT+3`); whether the tz database knows it is the server's question.
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]{0,30}(?:/[A-Za-z0-9_+\-]{1,30}){0,2}$")


@dataclass(frozen=True)
class Calendar:
    """An organisation's working week (ISO weekdays) and its holidays, in zone `zone`."""

    zone: str
    workdays: frozenset[int]
    holidays: frozenset[dt.date]

    def is_working_day(self, day: dt.date) -> bool:
        return day.isoweekday() in self.workdays and day not in self.holidays


def make_calendar(zone: str = DEFAULT_ZONE, workdays: Iterable[int] = DEFAULT_WORKDAYS,
                  holidays: Iterable[dt.date | str] = ()) -> Calendar:
    """A checked calendar: a zone name of the IANA shape, at least one working weekday, and
    holidays as dates (ISO strings accepted); bad values raise InvalidInput naming the field."""
    if not isinstance(zone, str) or not _ZONE_NAME.match(zone):
        raise InvalidInput("time_zone must be an IANA zone name such as Europe/Istanbul",
                           code="invalid_time_zone",
                           errors=[{"field": "time_zone", "message": "not a zone name"}])
    days = list(workdays)
    if not days or any(isinstance(d, bool) or not isinstance(d, int) or d not in WEEKDAYS
                       for d in days):
        raise InvalidInput("workdays must be a non-empty list of ISO weekdays 1 (Monday) "
                           "to 7 (Sunday)", code="invalid_workdays",
                           errors=[{"field": "workdays", "message": "ISO weekdays 1..7"}])
    dates = {_day(h) for h in holidays}
    if len(dates) > HOLIDAYS_MAX:
        raise InvalidInput(f"at most {HOLIDAYS_MAX} holidays", code="too_many_holidays",
                           errors=[{"field": "holidays", "message": "too many"}])
    return Calendar(zone, frozenset(days), frozenset(dates))


def _day(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidInput(f"holiday {value!r} is not a date (YYYY-MM-DD)", code="invalid_holiday",
                       errors=[{"field": "holidays", "message": "dates YYYY-MM-DD"}])


def today(now: dt.datetime, zone: dt.tzinfo) -> dt.date:
    """The date it is in `zone` at the instant `now` (which must carry its offset)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    return now.astimezone(zone).date()


def next_working_day(cal: Calendar, day: dt.date) -> dt.date:
    """The first working day strictly after `day`."""
    return add_working_days(cal, day, 1)


def add_working_days(cal: Calendar, start: dt.date, days: int) -> dt.date:
    """The `days`-th working day after `start` (see the module's docstring); negative counts
    go back. At most DAYS_MAX; a calendar whose holidays cover every day fails loudly."""
    if isinstance(days, bool) or not isinstance(days, int) or abs(days) > DAYS_MAX:
        raise InvalidInput(f"a duration is 0 to {DAYS_MAX} working days",
                           code="invalid_duration",
                           errors=[{"field": "days", "message": f"0..{DAYS_MAX}"}])
    step = dt.timedelta(days=1 if days >= 0 else -1)
    day, left = start, abs(days)
    # Holidays are finite (HOLIDAYS_MAX), so a working weekday comes within that many weeks.
    limit = (HOLIDAYS_MAX + 1) * 7 + DAYS_MAX * 7
    if left == 0:
        for _ in range(limit):
            if cal.is_working_day(day):
                return day
            day += step
    else:
        for _ in range(limit):
            day += step
            if cal.is_working_day(day):
                left -= 1
                if left == 0:
                    return day
    raise InvalidInput("the calendar has no working day in reach", code="no_working_days")


def working_days_between(cal: Calendar, start: dt.date, end: dt.date) -> int:
    """Working days in (start, end]; negative when end is before start (days late)."""
    if end < start:
        return -working_days_between(cal, end, start)
    count, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        count += cal.is_working_day(day)
    return count


def due_state(cal: Calendar, due: dt.date, on: dt.date) -> str:
    """Where a due date stands on day `on`: `overdue` (past), `due_today`, `due_tomorrow`
    (after today but no later than the next working day, so on a Friday a Monday due date is
    due tomorrow) or `upcoming`."""
    if due < on:
        return "overdue"
    if due == on:
        return "due_today"
    if due <= next_working_day(cal, on):
        return "due_tomorrow"
    return "upcoming"


def check_due_date(due: dt.date, on: dt.date) -> None:
    """A due date given by a person may not lie before today (in the project's zone)."""
    if due < on:
        raise InvalidInput(f"due date {due.isoformat()} is in the past (today is "
                           f"{on.isoformat()} in the project's time zone)",
                           code="due_date_in_past",
                           errors=[{"field": "due_date", "message": "in the past"}])
