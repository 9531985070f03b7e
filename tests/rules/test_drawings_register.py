"""The drawing register's pure rules: disciplines, ISO 19650 codes, file-name and text guesses."""

from __future__ import annotations

import random

import pytest

from rules import drawings_register as reg
from rules.errors import InvalidInput


@pytest.mark.parametrize(("number", "code"), [
    ("A-101", "A"), ("ID-201", "ID"), ("M-301", "M"), ("E-401", "E"), ("P-501", "P"),
    ("S-601", "S"), ("FF-701", "FF"), ("FP-001", "FP"), ("L-01", "L"), ("C-100", "C"),
    ("G-000", "G"), ("a-101", "A"), ("A101", "A"), ("AV-01", "AV"), ("LT-3", "LT"),
    ("X-100", None), ("123", None), ("IX-1", None),
])
def test_discipline_from_the_longest_known_prefix(number: str, code: str | None) -> None:
    assert reg.discipline_of(number) == code


def test_discipline_override_wins_and_must_be_known() -> None:
    assert reg.discipline_of("A-101", "id") == "ID"
    assert reg.discipline_of("X-1", "M") == "M"
    assert reg.normal_discipline(" av ") == "AV"
    with pytest.raises(InvalidInput) as caught:
        reg.discipline_of("A-101", "ZZ")
    assert caught.value.code == "unknown_discipline"
    assert reg.discipline_name("FF") == "Furniture & Fixtures"
    assert reg.discipline_name("ID") == "Interior Design"
    assert reg.discipline_name(None) is None


def test_the_named_disciplines_are_there() -> None:
    names = {"A": "Architectural", "ID": "Interior Design", "M": "Mechanical",
             "E": "Electrical", "P": "Plumbing", "S": "Structural", "FF": "Furniture & Fixtures",
             "L": "Landscape", "C": "Civil", "FP": "Fire Protection", "G": "General"}
    for code, name in names.items():
        assert reg.DISCIPLINES[code] == name


@pytest.mark.parametrize(("code", "kind", "normal"), [
    ("P01.01", "wip", "P01.01"), ("p01.02", "wip", "P01.02"), ("P01", "preliminary", "P01"),
    ("P12", "preliminary", "P12"), ("C01", "contractual", "C01"), (" c03 ", "contractual", "C03"),
])
def test_revision_codes(code: str, kind: str, normal: str) -> None:
    parsed = reg.parse_revision(code)
    assert parsed.kind == kind
    assert parsed.code == normal
    assert reg.revision_kind(code) == kind


@pytest.mark.parametrize("code", ["", "P1", "P001", "A01", "C01.01", "P00", "P01.00", "P01.1",
                                  "Rev A", "P01-01", "P01.01.01"])
def test_bad_revision_codes_refused(code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        reg.parse_revision(code)
    assert caught.value.code == "invalid_revision_code"
    assert caught.value.errors[0]["field"] == "revision"


def test_revisions_order_wip_then_preliminary_then_contractual() -> None:
    ordered = ["P01.01", "P01.02", "P01", "P02.01", "P02", "P10", "C01", "C02", "C10"]
    shuffled = ordered[:]
    random.Random(7).shuffle(shuffled)
    assert [r.code for r in sorted(reg.parse_revision(c) for c in shuffled)] == ordered


def test_check_next() -> None:
    reg.check_next([], "P01.01")
    reg.check_next(["P01.01", "P01"], "P02")
    reg.check_next(["P02"], "C01")
    for existing, new in ((["P02"], "P01"), (["P02"], "P02"), (["C01"], "P09"),
                          (["P01"], "P01.03")):
        with pytest.raises(InvalidInput) as caught:
            reg.check_next(existing, new)
        assert caught.value.code == "revision_out_of_order"


@pytest.mark.parametrize(("revision", "status"), [
    ("P01.01", "S0"), ("P01", "S1"), ("P01", "S2"), ("P01", "s3"), ("P02", "S4"),
    ("C01", "A1"), ("C01", "A12"), ("C02", "B1"), ("C03", "CR"),
])
def test_status_fits_revision(revision: str, status: str) -> None:
    assert reg.check_codes(revision, status) == (reg.parse_revision(revision).code,
                                                 status.upper())


@pytest.mark.parametrize(("revision", "status", "code"), [
    ("P01", "S0", "status_revision_mismatch"), ("P01.01", "S2", "status_revision_mismatch"),
    ("C01", "S3", "status_revision_mismatch"), ("P01", "A1", "status_revision_mismatch"),
    ("P01", "CR", "status_revision_mismatch"), ("C01", "S5", "invalid_status_code"),
    ("C01", "A0", "invalid_status_code"), ("C01", "D1", "invalid_status_code"),
    ("C01", "", "invalid_status_code"),
])
def test_status_misfits_refused(revision: str, status: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        reg.check_codes(revision, status)
    assert caught.value.code == code


def test_default_status_and_publishable() -> None:
    assert reg.default_status("P01.01") == "S0"
    assert reg.default_status("P01") == "S2"
    assert reg.default_status("C01") == "A1"
    assert not reg.publishable("P01.01")
    assert reg.publishable("P01") and reg.publishable("C01")


@pytest.mark.parametrize("number", ["A-101", "a-101 ", "ID-201.1", "FF/01", "M_3"])
def test_normal_number(number: str) -> None:
    assert reg.normal_number(number) == number.strip().upper()


@pytest.mark.parametrize("number", ["", " ", "-A", "A 101", "A-101;", "x" * 61])
def test_bad_numbers_refused(number: str) -> None:
    with pytest.raises(InvalidInput):
        reg.normal_number(number)


@pytest.mark.parametrize(("file_name", "number", "title", "revision"), [
    ("A-101 Ground Floor Plan P02.pdf", "A-101", "Ground Floor Plan", "P02"),
    ("A-101_Ground_Floor_Plan_P02.pdf", "A-101", "Ground Floor Plan", "P02"),
    ("A-101 Ground Floor Plan Rev C01.pdf", "A-101", "Ground Floor Plan", "C01"),
    ("A-101 - Ground Floor Plan - Rev. P01.02.PDF", "A-101", "Ground Floor Plan", "P01.02"),
    ("ID-201_P02.pdf", "ID-201", None, "P02"),
    ("ID-201.pdf", "ID-201", None, None),
    ("FF_301 Joinery Details (C02).pdf", "FF-301", "Joinery Details", "C02"),
    ("M-401-02 Ductwork Layout P03.pdf", "M-401-02", "Ductwork Layout", "P03"),
    ("folder/sub/E-100 Lighting P01.pdf", "E-100", "Lighting", "P01"),
    ("a101 ground floor p01.pdf", "A101", "ground floor", "P01"),
    ("Ground Floor Plan.pdf", None, "Ground Floor Plan", None),
    ("Ground Floor Plan P04.pdf", None, "Ground Floor Plan", "P04"),
    ("Scan 2024.pdf", None, "Scan 2024", None),
])
def test_guess_from_file_name(file_name: str, number: str | None, title: str | None,
                              revision: str | None) -> None:
    guess = reg.guess_from_file_name(file_name)
    assert (guess.number, guess.title, guess.revision) == (number, title, revision)
    assert guess.discipline == (reg.discipline_of(number) if number else None)
    assert guess.source == ("file_name" if number or revision else "none")


def test_guess_from_text_layer() -> None:
    text = """PROJECT: Tower Fit-Out Level 3
    DRAWING TITLE: Reflected Ceiling Plan
    SCALE 1:50 @ A1
    DRAWING NO. ID-305   REV: P01
    REVISIONS  P01  first issue  / P02 coordination
    """
    guess = reg.guess_from_text(text)
    assert guess.number == "ID-305"
    assert guess.title == "Reflected Ceiling Plan"
    assert guess.revision == "P02"
    assert guess.discipline == "ID"
    assert guess.source == "text"
    assert reg.guess_from_text("nothing to see").source == "none"


def test_merge_guesses_fills_gaps_from_text() -> None:
    name = reg.guess_from_file_name("Scan 0001.pdf")
    text = reg.guess_from_text("Title: Ground Floor\nA-101 Rev C01")
    merged = reg.merge_guesses(name, text)
    assert (merged.number, merged.title, merged.revision, merged.source) == (
        "A-101", "Ground Floor", "C01", "text")
    partial = reg.guess_from_file_name("A-101 Plan.pdf")
    assert reg.merge_guesses(partial, text).revision == "C01"
    assert reg.merge_guesses(partial, text).title == "Plan"
    assert reg.merge_guesses(partial, None) == partial


def test_purposes() -> None:
    assert reg.PURPOSES == ("for_information", "for_review", "for_construction", "for_tender")
