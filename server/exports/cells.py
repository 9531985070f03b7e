"""The columns of an export, read from the list's answer model, and what a JSON value
becomes in a CSV cell (text, formula injection neutralised; its XLSX cell is in
`server.exports.workbook`). Pure functions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pydantic

from db.json_values import compact
from server.exports.workbook import Column, Kind

# A spreadsheet treats a cell starting with one of these as a formula (OWASP "CSV
# injection"); tab and carriage return hide such a start from a naive check.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMATS: dict[str, Kind] = {"date": "date", "date-time": "datetime", "decimal": "money",
                             "uuid": "uuid"}
_TYPES: dict[str, Kind] = {"integer": "integer", "number": "number", "boolean": "boolean"}


def _kind(schema: dict[str, Any]) -> Kind:
    """The cell kind of one property's JSON schema (`X | None` is X)."""
    options = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    if len(options) != 1:
        return "text"
    one = options[0]
    if one.get("format") in _FORMATS:
        return _FORMATS[one["format"]]
    return _TYPES.get(one.get("type", ""), "text")


def columns_of(model: type[pydantic.BaseModel], hidden: frozenset[str] = frozenset()
               ) -> list[Column]:
    """The answer model's fields in their declared order, less `hidden` ones."""
    schema = model.model_json_schema(mode="serialization")
    return [Column(name, _kind(prop)) for name, prop in schema.get("properties", {}).items()
            if name not in hidden]


def neutralised(text: str) -> str:
    """Text a spreadsheet will not run as a formula: `'` before a formula's first sign."""
    return "'" + text if text[:1] in _FORMULA_FIRST else text


_FORMULA_FIRST = frozenset(FORMULA_STARTS)


def _text_cell(value: Any) -> Any:
    if type(value) is str:
        return neutralised(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict | tuple):
        return neutralised(compact(value))
    return value


def _boolean_cell(value: Any) -> Any:
    return ("true" if value else "false") if isinstance(value, bool) else value


def _iso(value: Any) -> Any:
    """A date or instant as the JSON list writes it (`str()` would put a space)."""
    return value.isoformat() if isinstance(value, dt.date) else value


# The values come as the list's JSON would write them, or not yet written (a UUID, a
# Decimal, a datetime: see `server.rest.REPLAYING`). What a non-null one of each kind
# needs before the csv module writes it (`str()`, None as empty): free text is
# neutralised, lists and objects become JSON, booleans lower case, dates ISO 8601;
# numbers, money and ids are their `str()`, as in the JSON list.
CSV_CELLS: dict[Kind, Callable[[Any], Any] | None] = {
    "text": _text_cell, "boolean": _boolean_cell, "uuid": None, "date": _iso,
    "datetime": _iso, "money": None, "integer": None, "number": None}


def csv_cell(value: Any, kind: Kind) -> str:
    """One JSON value of the list as CSV text (lists and objects as compact JSON)."""
    if value is None:
        return ""
    convert = CSV_CELLS[kind]
    return str(value if convert is None else convert(value))
