"""Pure rules of the legacy import: enums, roles, numbers, dates, units, JSON shape."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from importer import mapping as m
from importer.read import LegacyFormatError, parse_array


@pytest.mark.parametrize(("legacy", "position", "role"), [
    ("super_admin", "Managing Partner", "admin"),
    ("project_manager", "Project Manager", "project_manager"),
    ("team_lead", "Technical Manager", "coordinator"),
    ("senior", "Site Chief", "coordinator"),
    ("junior", "Site Assistant", "craftsman"),
    ("junior", "Technical Office Engineer", "designer"),
    ("team-lead", None, "coordinator"),
])
def test_roles(legacy: str, position: str | None, role: str) -> None:
    assert m.map_role(legacy, position)[0] == role


def test_unknown_role_is_least_privilege_and_noted() -> None:
    assert m.map_role("wizard") == ("craftsman", "role 'wizard' is not known; set to 'craftsman'")


@pytest.mark.parametrize(("rule", "value", "expected"), [
    (m.map_task_status, "in-progress", "in_progress"),
    (m.map_task_status, "in_progress", "in_progress"),
    (m.map_task_status, "active", "in_progress"),
    (m.map_project_status, "on-tender", "on_tender"),
    (m.map_project_status, "not-awarded", "cancelled"),
    (m.map_project_type, "fit-out", "fit_out"),
    (m.map_project_type, "general-contractor", "general_contractor"),
    (m.map_drawing_status, "pending", "submitted"),
    (m.map_drawing_status, "revision_required", "revise_and_resubmit"),
    (m.map_drawing_status, "revision-required", "revise_and_resubmit"),
    (m.map_drawing_status, "in-review", "in_review"),
    (m.map_client_status, "prospect", "prospect"),
    (m.map_scope_status, "in-progress", "in_progress"),
])
def test_enum_spellings_map_silently(rule: object, value: str, expected: str) -> None:
    assert rule(value) == (expected, None)  # type: ignore[operator]


def test_missing_or_unknown_enum_takes_the_default_with_a_note() -> None:
    assert m.map_priority(None) == ("medium", "priority missing; set to 'medium'")
    value, note = m.map_project_type("spaceship")
    assert value == "fit_out" and note and "spaceship" in note


@pytest.mark.parametrize(("raw", "unit", "noted"), [
    ("EA", "pcs", True), ("units", "pcs", True), ("sq ft", "sqft", True),
    ("linear ft", "lft", True), ("system", "set", True), ("pcs", "pcs", False),
    ("m2", "sqm", True), (None, None, False),
])
def test_units(raw: str | None, unit: str | None, noted: bool) -> None:
    value, note = m.normalise_unit(raw)
    assert value == unit and bool(note) == noted


def test_unknown_unit_is_left_empty_and_noted() -> None:
    assert m.normalise_unit("furlongs") == (None, "unit 'furlongs' is not a known unit; "
                                                  "left empty")


@pytest.mark.parametrize(("raw", "number"), [
    ("8", Decimal("8.00")), ("1850.00", Decimal("1850.00")), (380, Decimal("380.00")),
    (12.5, Decimal("12.50")), ("1,850.50", Decimal("1850.50")), (" 7 ", Decimal("7.00")),
])
def test_numbers_from_strings_and_numbers(raw: object, number: Decimal) -> None:
    assert m.parse_decimal(raw) == (number, None)


def test_bad_numbers() -> None:
    assert m.parse_decimal("abc")[0] is None
    assert m.parse_decimal(-5)[0] is None
    assert m.parse_decimal("1.005") == (Decimal("1.01"), "'1.005' rounded to 1.01")
    assert m.parse_percent(140) == (100, "140 is outside 0-100; set to 100")


def test_dates_with_and_without_milliseconds_and_bare_dates() -> None:
    utc = dt.UTC
    assert m.parse_datetime("2025-06-11T11:56:55.378Z")[0] == dt.datetime(
        2025, 6, 11, 11, 56, 55, 378000, tzinfo=utc)
    assert m.parse_datetime("2025-06-10T09:30:00Z")[0] == dt.datetime(2025, 6, 10, 9, 30,
                                                                      tzinfo=utc)
    assert m.parse_datetime("2025-06-15")[0] == dt.datetime(2025, 6, 15, tzinfo=utc)
    assert m.parse_date("2025-06-05T08:00:00Z") == (dt.date(2025, 6, 5), None)
    assert m.parse_date("soon")[0] is None and m.parse_date("soon")[1]
    assert m.ordered_dates(dt.date(2025, 2, 1), dt.date(2025, 1, 1))[0] is None


def test_file_size_lead_time_and_refs() -> None:
    assert m.megabytes_to_bytes(2.8) == (2936012, None)
    assert m.lead_time_days(3, "weeks") == (21, None)
    assert m.lead_time_days(21, "days") == (21, None)
    assert m.lead_time_days(21, None) == (21, None)
    assert m.lead_time_days(2, "fortnights")[0] is None
    assert m.legacy_ref(1) == ("1", None)
    assert m.legacy_ref("1") == ("1", "id given as the string '1'; read as 1")
    assert m.legacy_ref("") == (None, None)


def test_drawing_titles_revisions_and_names() -> None:
    assert m.drawing_title("Executive_Kitchen_Cabinets_Rev_C.pdf", "x") == \
        "Executive Kitchen Cabinets"
    assert m.drawing_title(None, "AK-MM-001") == "AK-MM-001"
    assert m.revision_label("Rev C") == ("Rev C", None)
    assert m.revision_label("b")[0] == "Rev B"
    assert m.revision_label("v2")[0] == "Rev A"
    assert m.fold("Kubilay  Ilgın") == m.fold("kubilay ilgin")
    assert m.fold("Ahmet Yılmaz") != m.fold("Hande Selen Karaman")
    assert m.scope_group("Electrical") == ("electric", None)
    assert m.scope_group(None)[0] == "construction"


def test_truncated_array_names_the_record() -> None:
    with pytest.raises(LegacyFormatError, match=r"tasks.json: after record #1 \(id 2\)"):
        parse_array("tasks.json", '[{"id": 1}, {"id": 2}')
    with pytest.raises(LegacyFormatError, match=r"tasks.json: record #1, after record #0 "
                                                r"\(id 1\): invalid JSON"):
        parse_array("tasks.json", '[{"id": 1}, {"id": 2, "name": "cut')
    with pytest.raises(LegacyFormatError, match="expected a JSON array"):
        parse_array("tasks.json", '{"id": 1}')
    assert parse_array("tasks.json", " [ ] ") == []


def test_deeply_nested_files_are_format_errors_not_recursion() -> None:
    ok = '[{"id": 1, "specifications": ' + "[" * 15 + "1" + "]" * 15 + "}]"
    assert parse_array("materialSpecifications.json", ok)[0]["id"] == 1
    for levels in (17, 100_000):
        deep = '[{"id": 1, "specifications": ' + "[" * levels + "1" + "]" * levels + "}]"
        with pytest.raises(LegacyFormatError, match="nested deeper than 18 levels"):
            parse_array("materialSpecifications.json", deep)
