"""Working-day arithmetic in a time zone: due dates skip weekends and holidays."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from rules import calendar as cal
from rules.errors import InvalidInput

D = dt.date
WEEK = cal.make_calendar("Europe/Istanbul")
# 2026-10-29 is a Thursday (Republic Day in Turkey), 2026-10-30 a Friday.
TR = cal.make_calendar("Europe/Istanbul", holidays=["2026-10-29", D(2026, 1, 1)])


def test_defaults_and_working_days() -> None:
    assert WEEK.workdays == frozenset({1, 2, 3, 4, 5})
    assert WEEK.is_working_day(D(2026, 12, 4))  # Friday
    assert not WEEK.is_working_day(D(2026, 12, 5))  # Saturday
    assert not TR.is_working_day(D(2026, 10, 29))
    assert TR.holidays == frozenset({D(2026, 10, 29), D(2026, 1, 1)})


@pytest.mark.parametrize(("start", "days", "due"), [
    (D(2026, 12, 7), 1, D(2026, 12, 8)),  # Monday + 1 = Tuesday
    (D(2026, 12, 4), 1, D(2026, 12, 7)),  # Friday + 1 = Monday
    (D(2026, 12, 5), 1, D(2026, 12, 7)),  # Saturday + 1 = Monday
    (D(2026, 12, 4), 5, D(2026, 12, 11)),
    (D(2026, 12, 4), 10, D(2026, 12, 18)),
    (D(2026, 12, 4), 0, D(2026, 12, 4)),
    (D(2026, 12, 5), 0, D(2026, 12, 7)),  # a Saturday rolls to Monday
    (D(2026, 12, 7), -1, D(2026, 12, 4)),
])
def test_add_working_days_skips_weekends(start: dt.date, days: int, due: dt.date) -> None:
    assert cal.add_working_days(WEEK, start, days) == due


def test_holidays_are_skipped() -> None:
    # Wednesday 28 Oct + 1: Thursday is a holiday, so Friday; + 2: Monday 2 Nov.
    assert cal.add_working_days(TR, D(2026, 10, 28), 1) == D(2026, 10, 30)
    assert cal.add_working_days(TR, D(2026, 10, 28), 2) == D(2026, 11, 2)
    assert cal.add_working_days(TR, D(2026, 10, 29), 0) == D(2026, 10, 30)
    assert cal.add_working_days(TR, D(2026, 10, 30), -1) == D(2026, 10, 28)
    assert cal.working_days_between(TR, D(2026, 10, 28), D(2026, 11, 2)) == 2
    assert cal.working_days_between(TR, D(2026, 11, 2), D(2026, 10, 28)) == -2
    assert cal.working_days_between(TR, D(2026, 10, 28), D(2026, 10, 28)) == 0


def test_other_working_weeks() -> None:
    # A Sunday-to-Thursday week.
    gulf = cal.make_calendar("Asia/Dubai", workdays=[7, 1, 2, 3, 4])
    assert cal.add_working_days(gulf, D(2026, 12, 3), 1) == D(2026, 12, 6)  # Thu -> Sun
    six = cal.make_calendar(workdays=[1, 2, 3, 4, 5, 6])
    assert cal.add_working_days(six, D(2026, 12, 4), 1) == D(2026, 12, 5)


def test_round_trip_of_many_days() -> None:
    start = D(2026, 1, 5)
    for n in range(0, 300, 7):
        due = cal.add_working_days(TR, start, n)
        assert TR.is_working_day(due)
        assert cal.working_days_between(TR, start, due) == n


def test_today_is_the_zone_s_date() -> None:
    late = dt.datetime(2026, 12, 4, 22, 30, tzinfo=dt.UTC)  # 01:30 on the 5th in Istanbul
    assert cal.today(late, ZoneInfo("Europe/Istanbul")) == D(2026, 12, 5)
    assert cal.today(late, ZoneInfo("UTC")) == D(2026, 12, 4)
    assert cal.today(late, ZoneInfo("America/New_York")) == D(2026, 12, 4)
    with pytest.raises(ValueError):
        cal.today(dt.datetime(2026, 12, 4, 12), ZoneInfo("UTC"))


def test_due_states() -> None:
    friday = D(2026, 12, 4)
    assert cal.due_state(WEEK, D(2026, 12, 3), friday) == "overdue"
    assert cal.due_state(WEEK, friday, friday) == "due_today"
    assert cal.due_state(WEEK, D(2026, 12, 5), friday) == "due_tomorrow"
    assert cal.due_state(WEEK, D(2026, 12, 7), friday) == "due_tomorrow"  # Monday
    assert cal.due_state(WEEK, D(2026, 12, 8), friday) == "upcoming"
    thursday = D(2026, 12, 3)
    assert cal.due_state(WEEK, friday, thursday) == "due_tomorrow"
    assert cal.due_state(WEEK, D(2026, 12, 7), thursday) == "upcoming"
    # Across a holiday: on Wednesday 28 Oct, Friday 30 is the next working day.
    assert cal.due_state(TR, D(2026, 10, 30), D(2026, 10, 28)) == "due_tomorrow"


def test_due_date_in_the_past_refused() -> None:
    cal.check_due_date(D(2026, 12, 4), D(2026, 12, 4))
    with pytest.raises(InvalidInput) as caught:
        cal.check_due_date(D(2026, 12, 3), D(2026, 12, 4))
    assert caught.value.code == "due_date_in_past"


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"zone": "not a zone"}, "invalid_time_zone"),
    ({"zone": ""}, "invalid_time_zone"),
    ({"zone": "../../etc/passwd"}, "invalid_time_zone"),
    ({"workdays": []}, "invalid_workdays"),
    ({"workdays": [0]}, "invalid_workdays"),
    ({"workdays": [8]}, "invalid_workdays"),
    ({"workdays": [True]}, "invalid_workdays"),
    ({"workdays": ["1"]}, "invalid_workdays"),
    ({"holidays": ["2026-02-30"]}, "invalid_holiday"),
    ({"holidays": ["tomorrow"]}, "invalid_holiday"),
    ({"holidays": [20260101]}, "invalid_holiday"),
    ({"holidays": [D(2026, 1, 1) + dt.timedelta(days=i) for i in range(1001)]},
     "too_many_holidays"),
])
def test_bad_calendars_refused(kwargs: dict, code: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidInput) as caught:
        cal.make_calendar(**kwargs)
    assert caught.value.code == code


def test_bad_durations_and_impossible_calendars() -> None:
    for days in (True, 1.5, cal.DAYS_MAX + 1):
        with pytest.raises(InvalidInput) as caught:
            cal.add_working_days(WEEK, D(2026, 1, 1), days)  # type: ignore[arg-type]
        assert caught.value.code == "invalid_duration"
    # Only Mondays, every Monday for a few years a holiday but within the limit: still ends.
    mondays = [D(2026, 1, 5) + dt.timedelta(weeks=i) for i in range(1000)]
    only_mondays = cal.make_calendar(workdays=[1], holidays=mondays)
    assert cal.add_working_days(only_mondays, D(2026, 1, 1), 1) == mondays[-1] + dt.timedelta(
        weeks=1)
