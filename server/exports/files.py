"""CSV files (RFC 4180, UTF-8, optional BOM), encoded page by page. XLSX workbooks are in
`server.exports.workbook` (the sheet) and `server.exports.workbooks` (where it is
written)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from server.exports.cells import CSV_CELLS
from server.exports.workbook import Column

BOM = "\ufeff"
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
