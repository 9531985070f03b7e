"""An XLSX worksheet written row by row by XlsxWriter in constant-memory mode, with what a
JSON value of a list becomes in its cells (dates as dates, money as numbers).

It imports only the standard library, XlsxWriter and `db.json_values`: besides running
inside a worker (in a thread), it is the program of the child process that writes a long
list's workbook (`python -m server.exports.workbook`, see `server.exports.workbooks`),
which reads from its standard input one pickled header `(path, [(name, kind), ...],
sheet)`, then pickled pages of rows (lists of values in column order), then None: it
closes the workbook and exits 0. Input that ends without the None (its parent died) or any
failure: a traceback on standard error, exit 1, no workbook."""

from __future__ import annotations

import datetime as dt
import pickle
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import xlsxwriter

from db.json_values import compact

Kind = Literal["text", "uuid", "date", "datetime", "money", "integer", "number", "boolean"]
MAX_XLSX_TEXT = 32_767  # characters in one cell (Excel's limit)
MAX_XLSX_ROWS = 1_048_575  # rows of a worksheet below its header (Excel's limit)


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind


class TooManyRows(Exception):
    """More rows than a worksheet holds."""


def check_room(written: int, more: int) -> None:
    """TooManyRows unless `more` rows fit below the `written` ones (XlsxWriter would drop
    them silently)."""
    if written + more > MAX_XLSX_ROWS:
        raise TooManyRows(MAX_XLSX_ROWS)


def _instant(value: Any) -> dt.datetime:
    """An instant (or its ISO text) as naive UTC (Excel has no time zones)."""
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def _day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _xlsx_text(value: Any) -> str:
    return compact(value) if isinstance(value, list | dict | tuple) else str(value)


# What a non-null value of each kind becomes in a spreadsheet cell (None: the value
# itself, a number or a boolean). A value that does not convert goes as text.
XLSX_CELLS: dict[Kind, Callable[[Any], Any] | None] = {
    "date": _day, "datetime": _instant, "money": float,
    "integer": None, "number": None, "boolean": None, "text": _xlsx_text, "uuid": str}


def xlsx_cell(value: Any, kind: Kind) -> Any:
    """One JSON value of the list as a typed spreadsheet value (None: an empty cell)."""
    if value is None:
        return None
    convert = XLSX_CELLS[kind]
    try:
        return value if convert is None else convert(value)
    except (TypeError, ValueError, ArithmeticError):
        return _xlsx_text(value)


class XlsxFile:
    """One worksheet: a bold header row, frozen, with filters; dates and instants formatted
    as such, money with two decimals. Strings are written as strings, never as formulas."""

    def __init__(self, path: Path, columns: Sequence[Column], sheet: str) -> None:
        self.columns = columns
        self.book = xlsxwriter.Workbook(str(path), {
            "constant_memory": True, "tmpdir": str(path.parent), "remove_timezone": True,
            "strings_to_formulas": False, "strings_to_numbers": False,
            "strings_to_urls": False})
        self.sheet = self.book.add_worksheet(sheet[:31])
        self.formats = {
            "date": self.book.add_format({"num_format": "yyyy-mm-dd"}),
            "datetime": self.book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
            "money": self.book.add_format({"num_format": "0.00"}),
        }
        bold = self.book.add_format({"bold": True})
        for col, column in enumerate(columns):
            self.sheet.write_string(0, col, column.name, bold)
        self.sheet.freeze_panes(1, 0)
        self.plan = self._plan(columns)
        self.written = 0

    def _plan(self, columns: Sequence[Column]) -> list[tuple[int, Any, Any, Any]]:
        """Per column: (index, conversion, XlsxWriter method, number format)."""
        method = {"date": self.sheet.write_datetime, "datetime": self.sheet.write_datetime,
                  "money": self.sheet.write_number, "integer": self.sheet.write_number,
                  "number": self.sheet.write_number, "boolean": self.sheet.write_boolean}
        return [(i, XLSX_CELLS[c.kind], method.get(c.kind, self._text),
                 self.formats.get(c.kind)) for i, c in enumerate(columns)]

    def _text(self, r: int, c: int, value: Any, _: Any = None) -> None:
        self.sheet.write_string(r, c, value[:MAX_XLSX_TEXT])

    def rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Rows as the list answers them (a value per column name)."""
        names = [c.name for c in self.columns]
        self.values([[row.get(name) for name in names] for row in rows])

    def values(self, rows: Sequence[Sequence[Any]]) -> None:
        """Rows as lists of values in column order."""
        check_room(self.written, len(rows))
        plan = self.plan
        for row in rows:
            self.written += 1
            r = self.written
            for c, convert, write, number_format in plan:
                value = row[c]
                if value is None:
                    continue
                try:
                    write(r, c, value if convert is None else convert(value), number_format)
                except (TypeError, ValueError, ArithmeticError):
                    self._text(r, c, _xlsx_text(value))

    def close(self) -> None:
        self.sheet.autofilter(0, 0, self.written, max(len(self.columns) - 1, 0))
        self.book.close()


def main() -> None:
    """The child process: its standard input into one workbook (the module's docstring)."""
    source = sys.stdin.buffer
    # One unpickler a page, as the parent pickles each with a pickler (and a memo) of its own.
    path, columns, sheet = pickle.Unpickler(source).load()  # noqa: S301 (its parent's)
    book = XlsxFile(Path(path), [Column(name, kind) for name, kind in columns], sheet)
    while (page := pickle.Unpickler(source).load()) is not None:  # noqa: S301
        book.values(page)
    book.close()


if __name__ == "__main__":
    main()
