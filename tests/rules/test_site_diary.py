"""The site diary's rules: days, the lock after completion, copying manpower."""

from __future__ import annotations

import datetime as dt

import pytest

from rules.errors import InvalidInput, NotPermitted, WrongState
from rules.site_diary import check_complete, check_day, check_write, copied_manpower

TODAY = dt.date(2026, 12, 5)


def test_only_today_and_past_days() -> None:
    check_day(TODAY, TODAY)
    check_day(TODAY - dt.timedelta(days=30), TODAY)
    for day, code in ((TODAY + dt.timedelta(days=1), "diary_day_in_future"),
                      (TODAY + dt.timedelta(days=7), "diary_day_in_future"),
                      (TODAY - dt.timedelta(days=400), "diary_day_too_old")):
        with pytest.raises(InvalidInput) as caught:
            check_day(day, TODAY)
        assert caught.value.code == code and caught.value.errors[0]["field"] == "day"


def test_a_completed_diary_is_locked_but_for_a_manager_with_a_reason() -> None:
    assert check_write("open", "craftsman", None) is False
    with pytest.raises(NotPermitted):
        check_write("open", "client", None)
    for role in ("craftsman", "coordinator", "designer"):
        with pytest.raises(WrongState):
            check_write("complete", role, "typo")
    with pytest.raises(InvalidInput):
        check_write("complete", "project_manager", None)
    with pytest.raises(InvalidInput):
        check_write("complete", "project_manager", "  ")
    assert check_write("complete", "project_manager", "wrong crew count") is True
    assert check_write("complete", "admin", "x") is True


def test_the_site_manager_completes() -> None:
    check_complete("open", "coordinator")
    check_complete("open", "project_manager")
    with pytest.raises(NotPermitted):
        check_complete("open", "craftsman")
    with pytest.raises(WrongState):
        check_complete("complete", "coordinator")


def test_copied_manpower_keeps_todays_figures() -> None:
    yesterday = [{"company": "Acme", "workers": 4, "hours": 32},
                 {"company": "Stone Co", "trade": "marble", "workers": 2, "hours": 16}]
    today = [{"company": "acme", "workers": 5, "hours": 40}]
    assert copied_manpower(yesterday, today) == [
        {"company": "acme", "workers": 5, "hours": 40},
        {"company": "Stone Co", "trade": "marble", "workers": 2, "hours": 16}]
    assert copied_manpower(None, []) == []


def test_photos_of_a_completed_diary() -> None:
    from rules.site_diary import check_photo
    check_photo("open", "craftsman")
    check_photo(None, "craftsman")  # not a diary: another check answers
    check_photo("complete", "project_manager")
    with pytest.raises(WrongState):
        check_photo("complete", "coordinator")
