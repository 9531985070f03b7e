"""The procurement schedule of a material spec (pure).

- order-by = the required-on-site date less the lead time in calendar days (a supplier's
  lead time runs through weekends), moved back to the last working day on or before it:
  nobody places an order on a Sunday or a holiday;
- submit-by = order-by less the design review and internal review durations, counted in
  working days of the organisation's calendar (`rules.calendar.add_working_days`).

At-risk flags (`RISKS`), each on its own, on a day `today` in the project's zone:
- `submit_overdue`: today is past submit-by and the spec is not approved yet;
- `order_overdue`: today is past order-by and the spec is not ordered yet;
- `delivery_late`: the expected delivery is after the required-on-site date while the
  material has not arrived.
A rule whose dates are not known does not fire.

Delivery status (`DELIVERY`, in order, each with its date) runs beside the workflow state
and never contradicts it: any delivery status needs a spec the workflow has ordered, and it
only moves forward.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rules.calendar import Calendar, add_working_days
from rules.errors import InvalidInput, WrongState

DELIVERY = ("ordered", "in_fabrication", "shipped", "delivered", "received")
RISKS = ("submit_overdue", "order_overdue", "delivery_late")
# Workflow states (rules/workflows/specs.py) past each point.
APPROVED = frozenset({"approved", "ordered", "in_stock", "delivered", "used"})
ORDERED = frozenset({"ordered", "in_stock", "delivered", "used"})
ARRIVED_STATES = frozenset({"in_stock", "delivered", "used"})
ARRIVED_DELIVERY = frozenset({"delivered", "received"})
# Fields of a spec the schedule is computed from (a change of one may flip a flag).
SCHEDULE_FIELDS = frozenset({"required_on_site", "lead_time_days", "design_review_days",
                             "internal_review_days", "expected_delivery_on", "status",
                             "delivery_status"})
DAYS_MAX = 3650


@dataclass(frozen=True)
class Schedule:
    order_by: dt.date | None
    submit_by: dt.date | None


def last_working_day(cal: Calendar, day: dt.date) -> dt.date:
    """`day` itself when it is a working day, else the working day before it."""
    return day if cal.is_working_day(day) else add_working_days(cal, day, -1)


def schedule(cal: Calendar, required_on_site: dt.date | None, lead_time_days: int | None,
             design_review_days: int | None, internal_review_days: int | None) -> Schedule:
    """Order-by and submit-by (None when the on-site date or the lead time is unknown;
    unknown review durations count as 0)."""
    if required_on_site is None or lead_time_days is None:
        return Schedule(None, None)
    check_days("lead_time_days", lead_time_days)
    review = 0
    for name, days in (("design_review_days", design_review_days),
                       ("internal_review_days", internal_review_days)):
        if days is not None:
            check_days(name, days)
            review += days
    try:
        ordered = required_on_site - dt.timedelta(days=lead_time_days)
    except OverflowError:
        raise InvalidInput("the lead time reaches before the calendar's first day",
                           code="validation_failed",
                           errors=[{"field": "lead_time_days", "message": "too long"}]) from None
    order_by = last_working_day(cal, ordered)
    submit_by = add_working_days(cal, order_by, -review) if review else order_by
    return Schedule(order_by, submit_by)


def check_days(field: str, days: object) -> None:
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= DAYS_MAX:
        raise InvalidInput(f"{field} is 0 to {DAYS_MAX} days", code="validation_failed",
                           errors=[{"field": field, "message": f"0..{DAYS_MAX}"}])


def arrived(status: str, delivery_status: str | None) -> bool:
    """The material is on site (workflow in stock or later, or delivered / received)."""
    return status in ARRIVED_STATES or delivery_status in ARRIVED_DELIVERY


def risks(today: dt.date, plan: Schedule, status: str, delivery_status: str | None,
          required_on_site: dt.date | None,
          expected_delivery_on: dt.date | None) -> tuple[str, ...]:
    """The at-risk flags that hold on `today`, in RISKS order."""
    found: list[str] = []
    if plan.submit_by is not None and today > plan.submit_by and status not in APPROVED:
        found.append("submit_overdue")
    if (plan.order_by is not None and today > plan.order_by and status not in ORDERED
            and delivery_status is None):
        found.append("order_overdue")
    if (expected_delivery_on is not None and required_on_site is not None
            and expected_delivery_on > required_on_site
            and not arrived(status, delivery_status)):
        found.append("delivery_late")
    return tuple(found)


def risks_of(cal: Calendar, today: dt.date, spec: Mapping[str, Any]) -> tuple[str, ...]:
    """The flags of a spec row (any mapping with the SCHEDULE_FIELDS)."""
    plan = schedule(cal, spec["required_on_site"], spec["lead_time_days"],
                    spec["design_review_days"], spec["internal_review_days"])
    return risks(today, plan, spec["status"], spec["delivery_status"],
                 spec["required_on_site"], spec["expected_delivery_on"])


def check_delivery(status: str, current: str | None, target: str) -> None:
    """Whether a spec in workflow state `status` and delivery status `current` may move to
    delivery status `target`: 422 for an unknown status, 409 when the workflow has not
    ordered the spec or the status would go back."""
    if target not in DELIVERY:
        raise InvalidInput(f"unknown delivery status {target!r}", code="validation_failed",
                           errors=[{"field": "delivery_status",
                                    "message": f"one of {', '.join(DELIVERY)}"}])
    if status not in ORDERED:
        raise WrongState(f"a spec that is {status} has no delivery status: it must be "
                         "approved and ordered first", code="not_ordered",
                         extra={"state": status})
    if current is not None and DELIVERY.index(target) <= DELIVERY.index(current):
        raise WrongState(f"the delivery status is {current}; it only moves forward "
                         f"({' -> '.join(DELIVERY)})", code="delivery_status_backwards",
                         extra={"delivery_status": current})


def check_dates(values: Mapping[str, Any]) -> None:
    """A delivery expected or a date on site given by a person lies within a sane range."""
    for field in ("required_on_site", "expected_delivery_on"):
        day = values.get(field)
        if isinstance(day, dt.date) and not dt.date(2000, 1, 1) <= day <= dt.date(2100, 12, 31):
            raise InvalidInput(f"{field} must lie between 2000 and 2100",
                               code="validation_failed",
                               errors=[{"field": field, "message": "2000-01-01..2100-12-31"}])
