"""The two file formats: CSV (RFC 4180, UTF-8, optional BOM) encoded page by page, and XLSX
written by XlsxWriter in constant-memory mode to a temporary file (a workbook is a zip:
it cannot be sent before it is closed), then sent in chunks."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import xlsxwriter

from server.exports.cells import CSV_CELLS, XLSX_CELLS, Column, xlsx_cell

BOM = "\ufeff"
MAX_XLSX_TEXT = 32_767  # characters in one cell (Excel's limit)
MAX_XLSX_ROWS = 1_048_575  # rows of a worksheet below its header (Excel's limit)
Row = Mapping[str, Any]


class CsvEncoder:
    """Rows to UTF-8 CSV bytes: a header line, then `\\r\\n`-ended records, quoted where
    RFC 4180 says (a comma, a quote, a line break)."""

    def __init__(self, columns: Sequence[Column], *, bom: bool = False) -> None:
        self.columns = columns
        self._names = [c.name for c in columns]
        # Only the cells that need it are converted (the rest as the JSON list has them).
        self._convert = [(i, convert) for i, c in enumerate(columns)
                         if (convert := CSV_CELLS[c.kind]) is not None]
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")
        self._start = BOM if bom else ""

    def header(self) -> bytes:
        self._writer.writerow([c.name for c in self.columns])
        return self._take(self._start)

    def rows(self, rows: Sequence[Row]) -> bytes:
        names, converts = self._names, self._convert
        lines = []
        for row in rows:
            cells = [row.get(name) for name in names]
            for i, convert in converts:
                if cells[i] is not None:
                    cells[i] = convert(cells[i])
            lines.append(cells)
        self._writer.writerows(lines)
        return self._take()

    def _take(self, prefix: str = "") -> bytes:
        text = prefix + self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text.encode("utf-8")


class TooManyRows(Exception):
    """More rows than a worksheet holds."""


class XlsxFile:
    """One worksheet written row by row in constant-memory mode: a bold header row, frozen,
    with filters; dates and instants formatted as such, money with two decimals. Strings
    are written as strings, never as formulas."""

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

    def _plan(self, columns: Sequence[Column]) -> list[tuple[int, str, Any, Any, Any]]:
        """Per column: (index, name, conversion, XlsxWriter method, number format)."""
        method = {"date": self.sheet.write_datetime, "datetime": self.sheet.write_datetime,
                  "money": self.sheet.write_number, "integer": self.sheet.write_number,
                  "number": self.sheet.write_number, "boolean": self.sheet.write_boolean}
        return [(i, c.name, XLSX_CELLS[c.kind], method.get(c.kind, self._text),
                 self.formats.get(c.kind)) for i, c in enumerate(columns)]

    def _text(self, r: int, c: int, value: Any, _: Any = None) -> None:
        self.sheet.write_string(r, c, value[:MAX_XLSX_TEXT])

    def rows(self, rows: Sequence[Row]) -> None:
        if self.written + len(rows) > MAX_XLSX_ROWS:  # XlsxWriter would drop them silently
            raise TooManyRows(MAX_XLSX_ROWS)
        plan = self.plan
        for row in rows:
            self.written += 1
            r = self.written
            for c, name, convert, write, number_format in plan:
                value = row.get(name)
                if value is None:
                    continue
                try:
                    write(r, c, value if convert is None else convert(value), number_format)
                except (TypeError, ValueError, ArithmeticError):
                    self._text(r, c, xlsx_cell(value, "text"))

    def close(self) -> None:
        self.sheet.autofilter(0, 0, self.written, max(len(self.columns) - 1, 0))
        self.book.close()
