"""Progress of an import: a rich progress bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from importer.report import Report


class Tracker(Protocol):
    def phase(self, name: str, total: int) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def close(self) -> None: ...


class Silent:
    """No output (tests, library use)."""

    def phase(self, name: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


class Lines:
    """One line per phase and per tenth of it: readable in logs and CI."""

    def __init__(self, out: TextIO) -> None:
        self.out, self.name, self.total, self.done, self.step = out, "", 0, 0, 1
        self.started = time.monotonic()

    def phase(self, name: str, total: int) -> None:
        self.name, self.total, self.done = name, total, 0
        self.step = max(1, total // 10)
        print(f"import-legacy: {name} ({total})", file=self.out, flush=True)

    def advance(self, n: int = 1) -> None:
        before, self.done = self.done, self.done + n
        if self.total and before // self.step != self.done // self.step:
            print(f"import-legacy: {self.name} {self.done}/{self.total}", file=self.out,
                  flush=True)

    def close(self) -> None:
        print(f"import-legacy: done in {time.monotonic() - self.started:.2f} s", file=self.out,
              flush=True)


class Bar:
    """A rich progress bar per phase."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(TextColumn("{task.description:<22}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=console)
        self.progress.start()
        self.task: TaskID | None = None

    def phase(self, name: str, total: int) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=self.progress.tasks[-1].total)
        self.task = self.progress.add_task(name, total=max(total, 1))

    def advance(self, n: int = 1) -> None:
        if self.task is not None:
            self.progress.advance(self.task, n)

    def close(self) -> None:
        self.progress.stop()


def tracker_for(stream: TextIO | None = None) -> Tracker:
    stream = stream or sys.stderr
    if stream.isatty():
        return Bar(Console(file=stream))
    return Lines(stream)


def summary_table(report: Report) -> Table:
    title = "Legacy import" + (" (dry run: nothing written)" if report.dry_run else "")
    table = Table(title=title)
    for column in ("file", "read", "created", "updated", "unchanged", "skipped"):
        table.add_column(column, justify="left" if column == "file" else "right")
    for name, count in report.files.items():
        table.add_row(name, *(str(getattr(count, c)) for c in (
            "read", "created", "updated", "unchanged", "skipped")))
    for name, count in report.tables.items():
        if name not in ("clients", "users", "projects", "scope_items", "tasks",
                        "shop_drawings", "material_specs") and count.read:
            table.add_row(f"  ({name})", str(count.read), str(count.created),
                          str(count.updated), str(count.unchanged), "-")
    return table


def print_summary(report: Report, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    console = Console(file=stream, width=None if stream.isatty() else 100)
    console.print(summary_table(report))
    counts: dict[str, int] = {}
    for issue in report.issues:
        counts[issue.action] = counts.get(issue.action, 0) + 1
    parts = [f"{n} {action}" for action, n in sorted(counts.items())]
    console.print("Report: " + (", ".join(parts) if parts else "no fixes or skips")
                  + f"; {len(report.invited)} users to invite"
                  + ("" if report.balanced else "; TOTALS DO NOT BALANCE"), highlight=False)
