"""Where a workbook is written: a long list's by a child process of its own, a short one's
in a thread; either way the same typed cells, Excel's row limit, and nothing left running
when an export stops half way."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from asyncpg.pgproto.pgproto import UUID as PgUUID

from server.exports import workbook, workbooks
from server.exports.workbook import Column, TooManyRows
from server.exports.workbooks import WorkbookFailed, open_workbook

COLUMNS = [Column("id", "uuid"), Column("title", "text"), Column("due_on", "date"),
           Column("updated_at", "datetime"), Column("budget", "money"),
           Column("count", "integer"), Column("done", "boolean"), Column("tags", "text")]
ID = uuid.UUID("0b0c3c6e-8d36-4d43-9d7c-3c1f6d0f5a11")


def _rows(n: int) -> list[dict[str, Any]]:
    return [{"id": PgUUID(ID.hex), "title": f"=row {i}\u2028", "due_on": dt.date(2026, 3, 1),
             "updated_at": dt.datetime(2026, 3, 1, 10, 0, 5, tzinfo=dt.UTC),
             "budget": Decimal("12.50"), "count": i, "done": i % 2 == 0,
             "tags": ["a", {"b": ID}] if i else None} for i in range(n)]


def _read(path: Path) -> list[tuple[Any, ...]]:
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None and sheet.freeze_panes == "A2" and sheet.auto_filter.ref
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


@pytest.mark.parametrize("long", [True, False])
async def test_a_workbook_holds_typed_cells_either_way(tmp_path: Path, long: bool) -> None:
    path = tmp_path / "out.xlsx"
    async with open_workbook(path, COLUMNS, "tasks", long=long) as book:
        assert type(book).__name__ == ("_InProcess" if long else "_InThread")
        for _ in range(3):
            await book.rows(_rows(2))
        await book.close()
    assert book.written == 6
    rows = _read(path)
    assert rows[0] == tuple(c.name for c in COLUMNS)
    assert rows[1] == (str(ID), "=row 0\u2028", dt.datetime(2026, 3, 1), dt.datetime(2026, 3, 1,
                       10, 0, 5), 12.5, 0, True, None)
    assert rows[2][-1] == f'["a",{{"b":"{ID}"}}]' and rows[2][6] is False
    assert len(rows) == 7
    assert workbooks._running == 0


async def test_a_long_list_beyond_excels_rows_is_refused(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workbook, "MAX_XLSX_ROWS", 3)
    async with open_workbook(tmp_path / "out.xlsx", COLUMNS, "tasks", long=True) as book:
        await book.rows(_rows(2))
        with pytest.raises(TooManyRows):
            await book.rows(_rows(2))
    assert workbooks._running == 0


async def test_a_writer_that_fails_says_why(tmp_path: Path) -> None:
    path = tmp_path / "not-there" / "out.xlsx"  # the child cannot create its files
    with pytest.raises(WorkbookFailed, match="No such file"):
        async with open_workbook(path, COLUMNS, "tasks", long=True) as book:
            for _ in range(50):  # until the pipe to the ended child breaks
                await book.rows(_rows(200))
            await book.close()
    assert workbooks._running == 0


async def test_an_export_left_half_way_leaves_no_process(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        async with open_workbook(tmp_path / "out.xlsx", COLUMNS, "tasks", long=True) as book:
            await book.rows(_rows(10))
            process = book.process  # type: ignore[attr-defined]
            raise RuntimeError("the client went away")
    assert process.returncode is not None  # killed and reaped
    assert workbooks._running == 0


async def test_writers_at_once_are_bounded_per_worker(tmp_path: Path) -> None:
    kinds = []
    async with open_workbook(tmp_path / "1.xlsx", COLUMNS, "a", long=True) as one, \
            open_workbook(tmp_path / "2.xlsx", COLUMNS, "b", long=True) as two, \
            open_workbook(tmp_path / "3.xlsx", COLUMNS, "c", long=True) as three:
        kinds = [type(b).__name__ for b in (one, two, three)]
        for book in (one, two, three):
            await book.rows(_rows(3))
            await book.close()
    assert kinds == ["_InProcess", "_InProcess", "_InThread"]
    assert [len(_read(tmp_path / f"{i}.xlsx")) for i in (1, 2, 3)] == [4, 4, 4]
    assert workbooks._running == 0


async def test_a_writer_whose_parent_goes_away_leaves_no_workbook(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    async with open_workbook(path, COLUMNS, "tasks", long=True) as book:
        await book.rows(_rows(10))
        process = book.process  # type: ignore[attr-defined]
        process.stdin.close()  # as when the worker is killed: the end never comes
        assert await process.wait() == 1
        assert "EOFError" in await book._error()  # type: ignore[attr-defined]
        book.closed = True  # type: ignore[attr-defined]
    assert not path.exists()
