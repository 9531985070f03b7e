"""The daily site diary (pure): one per project per day, written only for today and past
days ('today' in the project's time zone), marked complete by the site manager and then
locked: a change afterwards needs a project manager and a reason.

Roles (rules/permissions.py): WRITE_SITE_DIARY writes an open diary (staff on site,
craftsmen included); COMPLETE_SITE_DIARY marks it complete (the site manager: coordinators,
project managers); AMEND_SITE_DIARY changes a completed diary, with a reason (project
managers and admins).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from rules.errors import InvalidInput, NotPermitted, WrongState
from rules.permissions import Perm, can

STATUSES = ("open", "complete")
SECTIONS = ("manpower", "deliveries", "visitors", "delays", "safety")
# How far back a diary may be opened (a diary for a day years ago is a typo).
OLDEST_DAYS = 366


def check_day(day: dt.date, today: dt.date) -> None:
    """A diary is for today or a past day (of the last year), in the project's zone."""
    if day > today:
        raise InvalidInput(f"{day.isoformat()} is in the future (today is {today.isoformat()} "
                           "in the project's time zone): only today and past days can be "
                           "written", code="diary_day_in_future",
                           errors=[{"field": "day", "message": "in the future"}])
    if (today - day).days > OLDEST_DAYS:
        raise InvalidInput(f"a diary goes back at most {OLDEST_DAYS} days",
                           code="diary_day_too_old",
                           errors=[{"field": "day", "message": "too far back"}])


def check_write(status: str, role: str, reason: str | None) -> bool:
    """Whether a change of a diary in `status` by `role` may be made; True when it is an
    amendment of a completed diary (which then records `reason`)."""
    if not can(role, Perm.WRITE_SITE_DIARY):
        raise NotPermitted("Your role cannot write the site diary",
                           code="insufficient_permissions")
    if status == "open":
        return False
    if not can(role, Perm.AMEND_SITE_DIARY):
        raise WrongState("The diary is complete and locked: a project manager can change it, "
                         "with a reason", code="diary_locked", extra={"state": status})
    if reason is None or not reason.strip():
        raise InvalidInput("A change of a completed diary needs a reason",
                           code="reason_required",
                           errors=[{"field": "reason", "message": "required"}])
    return True


def check_complete(status: str, role: str) -> None:
    if not can(role, Perm.COMPLETE_SITE_DIARY):
        raise NotPermitted("Only the site manager marks a diary complete",
                           code="insufficient_permissions")
    if status != "open":
        raise WrongState("The diary is already complete", code="diary_locked",
                         extra={"state": status})


def copied_manpower(previous: Sequence[Mapping[str, Any]] | None,
                    current: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Today's manpower after copying the previous day's: its companies, workers and hours,
    in its order; a company today's list already names keeps today's figures."""
    out = [dict(e) for e in current]
    named = {str(e.get("company", "")).casefold() for e in current}
    for entry in previous or ():
        if str(entry.get("company", "")).casefold() not in named:
            out.append({k: entry[k] for k in ("company", "trade", "workers", "hours")
                        if k in entry})
    return out


def check_photo(status: str | None, role: str) -> None:
    """A photo joins an open diary; a completed one only from whoever may amend it."""
    if status == "complete" and not can(role, Perm.AMEND_SITE_DIARY):
        raise WrongState("The diary is complete and locked: a project manager can add to it",
                         code="diary_locked", extra={"state": status})
