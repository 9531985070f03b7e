"""Compare the plan with the database and write only what differs, in the one transaction.

Unchanged rows are not UPDATEd at all (so no trigger runs); changed rows get one UPDATE
of their changed columns; new rows are INSERTed in batches. Nothing is ever deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from db.queries import bulk
from importer.plan import INSERT_ONLY, TABLES, Row
from importer.report import FileCount, Report
from importer.state import Existing

BATCH = 500


@dataclass
class Change:
    row: Row
    columns: tuple[str, ...]  # changed columns (updates only)


@dataclass
class Diff:
    inserts: dict[str, list[Row]] = field(default_factory=lambda: {t: [] for t in TABLES})
    updates: dict[str, list[Change]] = field(default_factory=lambda: {t: [] for t in TABLES})

    @property
    def total(self) -> int:
        return sum(map(len, self.inserts.values())) + sum(map(len, self.updates.values()))


def _same(planned: Any, current: Any) -> bool:
    if isinstance(planned, list) and isinstance(current, list):
        return len(planned) == len(current) and all(map(_same, planned, current))
    return bool(planned == current)


def changed_columns(row: Row, current: dict[str, Any]) -> tuple[str, ...]:
    skip = INSERT_ONLY | row.insert_only
    return tuple(col for col, value in row.values.items()
                 if col not in skip and not _same(value, current.get(col)))


def diff(rows: dict[str, list[Row]], existing: Existing, report: Report) -> Diff:
    """Sort planned rows into created / updated / unchanged and count them."""
    result = Diff()
    for table in TABLES:
        counts = report.tables.setdefault(table, FileCount())
        for row in rows[table]:
            current = existing.by_key(table, row.key)
            outcome = "created"
            if current is None:
                result.inserts[table].append(row)
            elif columns := changed_columns(row, current):
                result.updates[table].append(Change(row, columns))
                outcome = "updated"
            else:
                outcome = "unchanged"
            counts.read += 1
            setattr(counts, outcome, getattr(counts, outcome) + 1)
            if row.file is not None:
                file_count = report.files[row.file]
                setattr(file_count, outcome, getattr(file_count, outcome) + 1)
    return result


async def write(conn: asyncpg.Connection, plan: Diff,
                advance: Callable[[int], None] = lambda n: None) -> None:
    for table in TABLES:
        await _insert(conn, table, plan.inserts[table], advance)
        await _update(conn, table, plan.updates[table], advance)


async def _insert(conn: asyncpg.Connection, table: str, rows: list[Row],
                  advance: Callable[[int], None]) -> None:
    groups: dict[tuple[str, ...], list[Row]] = {}
    for row in rows:
        groups.setdefault(tuple(row.values), []).append(row)
    for columns, group in groups.items():
        for start in range(0, len(group), BATCH):
            batch = group[start:start + BATCH]
            await bulk.insert_rows(conn, table, columns,
                                   [[r.values[c] for c in columns] for r in batch])
            advance(len(batch))


async def _update(conn: asyncpg.Connection, table: str, changes: list[Change],
                  advance: Callable[[int], None]) -> None:
    groups: dict[tuple[str, ...], list[Change]] = {}
    for change in changes:
        groups.setdefault(change.columns, []).append(change)
    for columns, group in groups.items():
        for start in range(0, len(group), BATCH):
            batch = group[start:start + BATCH]
            await bulk.update_rows(conn, table, columns, [
                [c.row.values["id"], *(c.row.values[col] for col in columns)] for c in batch])
            advance(len(batch))
