"""Export cells without a server: columns from the answer model, CSV text with formulas
neutralised, XLSX values typed."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path

import pydantic
import pytest

from server.errors import Invalid
from server.exports import workbook
from server.exports.cells import columns_of, csv_cell, neutralised
from server.exports.choice import Choice, choice_of
from server.exports.files import CsvEncoder
from server.exports.marks import CSV, XLSX
from server.exports.send import file_name
from server.exports.workbook import Column, xlsx_cell
from server.fields import MoneyOut


class Row(pydantic.BaseModel):
    id: uuid.UUID
    name: str
    due: dt.date | None
    at: dt.datetime
    price: MoneyOut | None
    count: int
    done: bool
    tags: list[str]
    secret: str | None = None


def test_columns_follow_the_model_and_its_types() -> None:
    assert columns_of(Row, frozenset({"secret"})) == [
        Column("id", "uuid"), Column("name", "text"), Column("due", "date"),
        Column("at", "datetime"), Column("price", "money"), Column("count", "integer"),
        Column("done", "boolean"), Column("tags", "text")]


def test_formula_starts_are_neutralised_in_text_only() -> None:
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert neutralised(text) == "'" + text
        assert csv_cell(text, "text") == "'" + text
    assert neutralised("a=1") == "a=1" and neutralised("") == ""
    assert csv_cell(["=x"], "text") == '["=x"]'  # JSON starts with [
    assert csv_cell("-12.50", "money") == "-12.50"  # a number stays a number
    assert csv_cell(None, "text") == "" and csv_cell(True, "boolean") == "true"
    assert csv_cell({"a": [1, "é"]}, "text") == '{"a":[1,"é"]}'


def test_csv_is_rfc_4180_with_an_optional_bom() -> None:
    columns = [Column("name", "text"), Column("count", "integer")]
    encoder = CsvEncoder(columns, bom=True)
    head = encoder.header()
    body = encoder.rows([{"name": 'a "b", c\nd', "count": 3}, {"name": None, "count": 0}])
    assert head == "\ufeffname,count\r\n".encode()
    assert body == b'"a ""b"", c\nd",3\r\n,0\r\n'


def test_values_not_yet_written_as_json_read_as_the_json_list_has_them() -> None:
    """A replayed page carries UUIDs, Decimals and datetimes (server.rest.REPLAYING)."""
    at = dt.datetime(2026, 3, 1, 10, 0, 5, tzinfo=dt.UTC)
    assert csv_cell(at, "datetime") == "2026-03-01T10:00:05+00:00"
    assert csv_cell(dt.date(2026, 3, 1), "date") == "2026-03-01"
    assert csv_cell(Decimal("12.50"), "money") == "12.50"
    some = uuid.uuid4()
    assert csv_cell(some, "uuid") == str(some)
    assert csv_cell([some], "text") == f'["{some}"]'
    assert xlsx_cell(at, "datetime") == dt.datetime(2026, 3, 1, 10, 0, 5)
    assert xlsx_cell(Decimal("12.50"), "money") == 12.5
    assert xlsx_cell(dt.date(2026, 3, 1), "date") == dt.date(2026, 3, 1)


def test_xlsx_values_are_typed() -> None:
    assert xlsx_cell("2026-03-01", "date") == dt.date(2026, 3, 1)
    assert xlsx_cell("2026-03-01T10:00:00+02:00", "datetime") == dt.datetime(2026, 3, 1, 8)
    assert xlsx_cell("12.50", "money") == 12.5
    assert xlsx_cell(["a"], "text") == '["a"]' and xlsx_cell(None, "money") is None
    assert xlsx_cell("not a date", "date") == "not a date"


def test_the_format_comes_from_the_query_then_accept() -> None:
    assert choice_of({}, "") is None
    assert choice_of({}, "text/csv") == Choice("csv")
    assert choice_of({}, f"application/json, {CSV}") is None
    assert choice_of({"format": "xlsx"}, CSV) == Choice("xlsx")
    assert choice_of({"format": "csv", "bom": "1"}, "").media == CSV
    assert choice_of({}, XLSX) == Choice("xlsx")
    assert choice_of({"format": "json"}, CSV) is None
    for bad in ("", "pdf", "CSV"):
        with pytest.raises(Invalid):
            choice_of({"format": bad}, CSV)


def test_file_names_are_safe() -> None:
    now = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.UTC)
    assert file_name("tasks", "csv", now) == "tasks-20260105-093000.csv"
    assert file_name('a"b/../c', "xlsx", now) == "a_b_.._c-20260105-093000.xlsx"


def test_a_worksheet_refuses_more_rows_than_excel_holds(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workbook, "MAX_XLSX_ROWS", 2)
    book = workbook.XlsxFile(tmp_path / "x.xlsx", [Column("name", "text")], "x")
    book.rows([{"name": "a"}, {"name": "b"}])
    with pytest.raises(workbook.TooManyRows):
        book.rows([{"name": "c"}])
    book.close()
