"""Pure mapping rules from the legacy vocabulary to ours; each returns (value, note).

A note is None when the value maps one to one (a spelling of the same word), and otherwise
says what was changed and why; the planner puts every note in the import report.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, TypeVar

from rules.enums import (
    DRAWING_STATUSES,
    PRIORITIES,
    PROJECT_STATUSES,
    PROJECT_TYPES,
    SCOPE_STATUSES,
    SPEC_STATUSES,
    TASK_STATUSES,
)

T = TypeVar("T")
Mapped = tuple[T, str | None]


def _key(value: Any) -> str:
    """Spelling-insensitive key: `In-Progress`, `in_progress`, `in progress` are one word."""
    return re.sub(r"[\s\-]+", "_", str(value).strip().lower())


@functools.lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Compare names without case, accents or spacing (`Kubilay Ilgın` = `kubilay ilgin`)."""
    text = text.replace("ı", "i").replace("İ", "I")
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())


def _enum(value: Any, table: dict[str, str], default: str, what: str) -> Mapped[str]:
    if value is None or str(value).strip() == "":
        return default, f"{what} missing; set to '{default}'"
    mapped = table.get(_key(value))
    if mapped is None:
        return default, f"{what} {value!r} is not known; set to '{default}'"
    return mapped, None


# Roles: the legacy hierarchy (super_admin > project_manager > team_lead > senior > junior)
# onto ours by what each level was allowed to do. Team leads and seniors coordinated work
# (assign/create tasks) -> coordinator; juniors only saw their own tasks -> craftsman, the
# least privilege. Positions that name drawing work (design, architect, draughting, CAD,
# technical office) make a non-manager a designer, since designers submit shop drawings.
ROLE_MAP = {
    "super_admin": "admin", "admin": "admin", "co_founder": "admin", "owner": "admin",
    "project_manager": "project_manager", "manager": "project_manager",
    "team_lead": "coordinator", "senior": "coordinator", "coordinator": "coordinator",
    "team_member": "craftsman", "junior": "craftsman", "craftsman": "craftsman",
    "designer": "designer",
}
DESIGN_POSITION = re.compile(r"design|architect|draught|draft|cad\b|technical office", re.I)


def map_role(role: Any, position: Any = None) -> Mapped[str]:
    mapped, note = _enum(role, ROLE_MAP, "craftsman", "role")
    if mapped in ("coordinator", "craftsman") and position and DESIGN_POSITION.search(
            str(position)):
        return "designer", f"role {role!r} with position {position!r} -> designer"
    return mapped, note


CLIENT_STATUS = {"active": "active", "prospect": "prospect", "potential": "prospect",
                 "lead": "prospect", "inactive": "inactive", "archived": "archived"}
# Project types: hyphenated legacy spellings; "electrical" was the frontend's word for mep.
PROJECT_TYPE = {t: t for t in PROJECT_TYPES} | {
    "fitout": "fit_out", "electrical": "mep", "gc": "general_contractor"}
# Project statuses: awarded means work goes ahead (active); not-awarded ends it (cancelled).
PROJECT_STATUS = {s: s for s in PROJECT_STATUSES} | {
    "tender": "on_tender", "awarded": "active", "in_progress": "active",
    "not_awarded": "cancelled", "canceled": "cancelled", "planning": "draft"}
PRIORITY = {p: p for p in PRIORITIES} | {
    "critical": "urgent", "normal": "medium"}
# Tasks: the legacy system wrote `active`, `in_progress` and `in-progress` for one state.
TASK_STATUS = {s: s for s in TASK_STATUSES} | {
    "active": "in_progress", "started": "in_progress", "in_review": "review",
    "todo": "pending", "not_started": "pending", "on_hold": "pending", "done": "completed",
    "canceled": "cancelled"}
SCOPE_STATUS = {s: s for s in SCOPE_STATUSES} | {
    "active": "in_progress", "not_started": "pending", "done": "completed",
    "canceled": "cancelled"}
# Shop drawings, onto the submittal workflow: an uploaded drawing awaiting approval has been
# submitted; "revision required" asks the submitter to revise and resubmit.
DRAWING_STATUS = {s: s for s in DRAWING_STATUSES} | {
    "pending": "submitted", "pending_approval": "submitted", "under_review": "in_review",
    "revision_required": "revise_and_resubmit", "revise": "revise_and_resubmit",
    "approved_with_comments": "approved_as_noted", "cancelled": "void", "voided": "void"}
SPEC_STATUS = {s: s for s in SPEC_STATUSES} | {"submitted": "pending_approval",
                                               "revise": "revision_required"}


def map_client_status(value: Any) -> Mapped[str]:
    return _enum(value, CLIENT_STATUS, "active", "status")


def map_project_type(value: Any) -> Mapped[str]:
    # fit_out is the firm's own trade: the honest default for an untyped project.
    return _enum(value, PROJECT_TYPE, "fit_out", "type")


def map_project_status(value: Any) -> Mapped[str]:
    return _enum(value, PROJECT_STATUS, "draft", "status")


def map_priority(value: Any) -> Mapped[str]:
    return _enum(value, PRIORITY, "medium", "priority")


def map_task_status(value: Any) -> Mapped[str]:
    return _enum(value, TASK_STATUS, "pending", "status")


def map_scope_status(value: Any) -> Mapped[str]:
    return _enum(value, SCOPE_STATUS, "pending", "status")


def map_drawing_status(value: Any) -> Mapped[str]:
    return _enum(value, DRAWING_STATUS, "draft", "status")


def map_spec_status(value: Any) -> Mapped[str]:
    return _enum(value, SPEC_STATUS, "pending", "status")


# Units: count words (units, EA, each, fixtures, bathrooms...) are pieces; imperial spellings
# are folded onto the short forms of the schema; a "system" is delivered as one set.
UNIT_ALIASES = {
    "pcs": "pcs", "pc": "pcs", "piece": "pcs", "pieces": "pcs", "unit": "pcs", "units": "pcs",
    "ea": "pcs", "each": "pcs", "nos": "pcs", "no": "pcs", "adet": "pcs", "fixture": "pcs",
    "fixtures": "pcs", "bathroom": "pcs", "bathrooms": "pcs",
    "sqm": "sqm", "m2": "sqm", "sq_m": "sqm", "m²": "sqm", "sqft": "sqft", "sq_ft": "sqft",
    "ft2": "sqft", "lm": "lm", "linear_m": "lm", "lft": "lft", "linear_ft": "lft", "lf": "lft",
    "m": "m", "ft": "ft", "kg": "kg", "lb": "lb", "lbs": "lb", "ton": "ton", "tons": "ton",
    "hours": "hours", "hour": "hours", "hrs": "hours", "days": "days", "day": "days",
    "lot": "lot", "ls": "lot", "lump_sum": "lot", "set": "set", "sets": "set",
    "system": "set", "systems": "set", "l": "l", "litre": "l", "liter": "l",
}


def normalise_unit(value: Any) -> Mapped[str | None]:
    if value is None or str(value).strip() == "":
        return None, None
    unit = UNIT_ALIASES.get(_key(value))
    if unit is None:
        return None, f"unit {value!r} is not a known unit; left empty"
    if unit != str(value).strip():
        return unit, f"unit {value!r} -> '{unit}'"
    return unit, None


_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")


def parse_decimal(value: Any, places: int = 2, *, minimum: Decimal | None = Decimal(0)
                  ) -> Mapped[Decimal | None]:
    """Numbers given as numbers or strings ("1850.00", "1,850.00"), rounded to the column."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    text = str(value).strip().replace(" ", "")
    if isinstance(value, str) and _THOUSANDS.match(text):
        text = text.replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None, f"{value!r} is not a number; left empty"
    if not number.is_finite():
        return None, f"{value!r} is not a finite number; left empty"
    exact = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if minimum is not None and exact < minimum:
        return None, f"{value!r} is below {minimum}; left empty"
    note = f"{value!r} rounded to {exact}" if exact != number else None
    return exact, note


def parse_percent(value: Any) -> Mapped[int]:
    number, note = parse_decimal(value, 0, minimum=None)
    if number is None:
        return 0, note
    clamped = max(0, min(100, int(number)))
    if clamped != number:
        return clamped, f"{value!r} is outside 0-100; set to {clamped}"
    return clamped, note


def parse_datetime(value: Any) -> Mapped[dt.datetime | None]:
    """ISO timestamps with or without milliseconds or zone (UTC assumed), or bare dates."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    text = str(value).strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC), None
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None, f"{value!r} is not a date or timestamp; left empty"
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)), None


def parse_date(value: Any) -> Mapped[dt.date | None]:
    stamp, note = parse_datetime(value)
    return (stamp.date() if stamp else None), note


def ordered_dates(start: dt.date | None, end: dt.date | None) -> Mapped[dt.date | None]:
    """The end date, or None (with a note) when it lies before the start."""
    if start and end and end < start:
        return None, f"end {end} is before start {start}; end left empty"
    return end, None


MIB = 1024 * 1024


def megabytes_to_bytes(value: Any) -> Mapped[int | None]:
    """The legacy UI showed sizes as `bytes / 1024 / 1024` with one decimal: MiB."""
    number, note = parse_decimal(value, 3)
    return (int(number * MIB) if number is not None else None), note


LEAD_UNITS = {"day": 1, "days": 1, "business_days": 1, "week": 7, "weeks": 7, "month": 30,
              "months": 30}


def lead_time_days(value: Any, unit: Any) -> Mapped[int | None]:
    """Lead time in days: weeks x 7, months x 30; no unit means days."""
    number, note = parse_decimal(value, 0)
    if number is None:
        return None, note
    factor = LEAD_UNITS.get(_key(unit)) if unit else 1
    if factor is None:
        return None, f"lead time unit {unit!r} is not known; lead time left empty"
    return int(number) * factor, note


def legacy_ref(value: Any) -> Mapped[str | None]:
    """A reference as the text kept in legacy_id; a numeric string is noted (e.g. "1")."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip(), f"id given as the string {value!r}; read as {value.strip()}"
    return str(value).strip(), None


def drawing_title(file_name: Any, fallback: str) -> str:
    """`Executive_Kitchen_Cabinets_Rev_C.pdf` -> `Executive Kitchen Cabinets`."""
    if not file_name:
        return fallback
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", str(file_name))
    stem = re.sub(r"[_\s-]+Rev[_\s-]*[A-Z]{1,2}$", "", stem, flags=re.I)
    title = " ".join(stem.replace("_", " ").split())
    return title[:300] or fallback


REVISION = re.compile(r"^Rev [A-Z]{1,2}$")


def revision_label(value: Any) -> Mapped[str]:
    """`Rev B`, `rev b`, `B`, `Rev_B` -> `Rev B`; anything else -> `Rev A`, noted."""
    if value is None or not str(value).strip():
        return "Rev A", "revision missing; set to 'Rev A'"
    match = re.match(r"^(?:rev(?:ision)?[\s_.-]*)?([A-Za-z]{1,2})$", str(value).strip(), re.I)
    if not match:
        return "Rev A", f"revision {value!r} is not a letter revision; set to 'Rev A'"
    label = f"Rev {match.group(1).upper()}"
    return label, (None if label == value else f"revision {value!r} -> {label!r}")


MIME = {"pdf": "application/pdf", "dwg": "image/vnd.dwg", "dxf": "image/vnd.dxf",
        "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg"}


def mime_type(file_name: Any) -> str | None:
    if not file_name or "." not in str(file_name):
        return None
    return MIME.get(str(file_name).rsplit(".", 1)[1].lower())


GROUP_ORDER = ("construction", "millwork", "electric", "mep")
GROUP_ALIASES = {"electrical": "electric", "mechanical": "mep", "joinery": "millwork",
                 "carpentry": "millwork", "civil": "construction"}


def scope_group(value: Any) -> Mapped[str]:
    """The scope group name and its rule: the four legacy groups, or the text as given."""
    if value is None or not str(value).strip():
        return "construction", "group missing; put in 'construction'"
    key = str(value).strip().lower()
    key = GROUP_ALIASES.get(key, key)
    return key[:300], None


def group_order(name: str) -> int:
    return GROUP_ORDER.index(name) if name in GROUP_ORDER else len(GROUP_ORDER)


def text(value: Any, limit: int | None = None) -> str | None:
    """Trimmed text or None; numbers become their text."""
    if value is None:
        return None
    result = str(value).strip()
    if not result:
        return None
    return result[:limit] if limit else result
