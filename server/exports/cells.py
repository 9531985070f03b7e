"""The columns of an export and its cells, read from the list's answer model: what a JSON
value becomes in a CSV cell (text, formula injection neutralised) and in an XLSX cell
(dates as dates, money as numbers). Pure functions."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import pydantic

Kind = Literal["text", "date", "datetime", "money", "integer", "number", "boolean"]
# A spreadsheet treats a cell starting with one of these as a formula (OWASP "CSV
# injection"); tab and carriage return hide such a start from a naive check.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMATS: dict[str, Kind] = {"date": "date", "date-time": "datetime", "decimal": "money"}
_TYPES: dict[str, Kind] = {"integer": "integer", "number": "number", "boolean": "boolean"}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind


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
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_cell(value: Any, kind: Kind) -> str:
    """One JSON value of the list as CSV text (lists and objects as compact JSON)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return neutralised(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
    text = str(value)
    return neutralised(text) if kind == "text" else text


def _instant(text: str) -> dt.datetime:
    """An ISO instant as naive UTC (Excel has no time zones)."""
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def xlsx_cell(value: Any, kind: Kind) -> Any:
    """One JSON value of the list as a typed spreadsheet value (None: an empty cell)."""
    if value is None:
        return None
    try:
        if kind == "date":
            return dt.date.fromisoformat(value)
        if kind == "datetime":
            return _instant(value)
        if kind == "money":
            return float(Decimal(value))
    except (TypeError, ValueError, ArithmeticError):
        return str(value)
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return value
