"""The weekly project report as PDF.

`weekly_report(conn, project_id, start=, end=, paper=)` is the whole job for a caller that
holds a connection inside the requester's transaction (the export jobs' runner): it reads
every figure through that transaction, so row-level security decides what the report holds
and a client user's report carries no internal cost (db/audience.py), then draws the PDF.
The route splits the two (`collect` in the transaction, `render_pdf` after it), so no
connection is held while the PDF is drawn.

Drawing is CPU work: it runs in a child process (a pool of two started on first use, `spawn`,
so nothing of the server's threads or sockets is inherited; each child clears its environment
and limits its address space to 1 GiB) and the event loop only waits.
At most `MAX_PENDING` reports wait or draw at once in a worker; one more is refused (429).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import os
import resource
import uuid
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

import asyncpg

from db.audience import is_client
from db.queries import reports as queries
from rules import calendar as rules_calendar
from server import calendar
from server.errors import Invalid, NotFound, TooManyRequests
from server.reports.render import PAPERS, Report, render
from storage.backend import Storage
from storage.errors import StorageError
from storage.keys import thumbnail_key

Paper = Literal["a4", "letter"]
DEFAULT_DAYS = 7  # the default period: the last 7 days, today included
MAX_DAYS = 93  # the longest period (a quarter)
EARLIEST, LATEST = dt.date(1970, 1, 1), dt.date(2999, 12, 31)
SUBMITTALS_MAX = 300  # rows of the submittal log in the PDF (the rest: the lists' CSV)
REVISED_MAX = 24  # drawing revisions shown with their thumbnails
THUMB_BYTES_MAX = 2 << 20  # a stored thumbnail larger than this is left out
HOLDERS_MAX = 12  # bars of the overdue chart
MAX_PENDING = 4  # reports waiting or drawing at once in one worker
RENDER_TIMEOUT = 120.0  # seconds
CHILD_MEMORY = 1 << 30  # bytes of address space of a drawing child

_pool: ProcessPoolExecutor | None = None
_pending = 0


@dataclass(frozen=True)
class WeeklyReport:
    pdf: bytes
    rows: int  # table rows of the report (the submittal log), for the audit row
    start: dt.date
    end: dt.date


def check_period(start: dt.date | None, end: dt.date | None) -> None:
    """422 for dates out of range, `from` after `to`, or a period over MAX_DAYS."""
    errors = [{"field": name, "message": f"between {EARLIEST} and {LATEST}"}
              for name, value in (("from", start), ("to", end))
              if value is not None and not EARLIEST <= value <= LATEST]
    if errors:
        raise Invalid("The period's dates are out of range", errors=errors)
    if start is not None and end is not None:
        if start > end:
            raise Invalid("The period ends before it starts",
                          errors=[{"field": "from", "message": "after `to`"}])
        if (end - start).days + 1 > MAX_DAYS:
            raise Invalid(f"A report covers at most {MAX_DAYS} days", errors=[
                {"field": "to", "message": f"at most {MAX_DAYS} days after `from`"}])


def period(start: dt.date | None, end: dt.date | None,
           today: dt.date) -> tuple[dt.date, dt.date]:
    """The period asked for, defaults filled: `to` today, `from` 7 days back (inclusive)."""
    check_period(start, end)
    if end is None:
        end = today if start is None else min(start + dt.timedelta(days=DEFAULT_DAYS - 1),
                                              LATEST)
    if start is None:
        start = end - dt.timedelta(days=DEFAULT_DAYS - 1)
    check_period(start, end)
    return start, end


def _local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)


def _local_day(value: dt.datetime | None, zone: ZoneInfo) -> str:
    return "" if value is None else value.astimezone(zone).date().isoformat()


def _money(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _figures(summary: Mapping[str, Any], counts: Mapping[str, Any],
             client: bool) -> list[tuple[str, str]]:
    by_status = summary["tasks_by_status"] or {}
    open_tasks = sum(n for s, n in by_status.items() if s not in ("completed", "cancelled"))
    figures = [
        ("Progress", f"{summary['progress']}%"),
        ("Tasks (open / total)", f"{open_tasks} / {summary['tasks_total']}"),
        ("Tasks overdue", str(summary["tasks_overdue"])),
        ("Tasks completed in the period", str(counts["tasks_completed"])),
        ("Tasks created in the period", str(counts["tasks_created"])),
        ("Scope items (average completion)",
         f"{summary['scope_items_total']} ({summary['scope_completion']}%)"),
        ("Drawing revisions published in the period", str(counts["revisions_published"])),
        ("Shop drawings awaiting action", str(summary["drawings_awaiting_action"])),
        ("Team", str(summary["team_size"])),
    ]
    if not client:  # internal costs: never in a client user's report
        figures += [("Budget", _money(summary["budget"])),
                    ("Committed material cost", _money(summary["committed_material_cost"])),
                    ("Budget remaining", _money(summary["budget_remaining"])),
                    ("Scope value", _money(summary["scope_value"]))]
    return figures


def _progress(days: list[dt.date], changes: list[asyncpg.Record],
              done: list[asyncpg.Record], zone: ZoneInfo,
              ) -> list[tuple[dt.date, float | None, float | None]]:
    """Per day: the project's progress at the day's end (the last audited value by then)
    and the share of its tasks completed by then."""
    points = [(c["at"].astimezone(zone).date(), c["progress"]) for c in changes]
    out: list[tuple[dt.date, float | None, float | None]] = []
    value: float | None = None
    i = 0
    for day, row in zip(days, done, strict=True):
        while i < len(points) and points[i][0] <= day:
            value = points[i][1]
            i += 1
        share = 100.0 * row["done"] / row["total"] if row["total"] else None
        out.append((day, value, share))
    return out


def _overdue(rows: list[asyncpg.Record]) -> list[tuple[str, dict[str, int]]]:
    holders: dict[str, dict[str, int]] = {}
    for row in rows:
        name = row["holder"] or "Someone you cannot see"
        kinds = holders.setdefault(name, {})
        kinds[row["kind"]] = kinds.get(row["kind"], 0) + row["n"]
    ranked = sorted(holders.items(), key=lambda h: (-sum(h[1].values()), h[0]))
    if len(ranked) > HOLDERS_MAX:
        rest: dict[str, int] = {}
        for _, kinds in ranked[HOLDERS_MAX - 1:]:
            for k, n in kinds.items():
                rest[k] = rest.get(k, 0) + n
        ranked = [*ranked[:HOLDERS_MAX - 1], ("Everyone else", rest)]
    return ranked


async def _thumbnail(storage: Storage | None, key: str | None) -> bytes | None:
    """A stored thumbnail's bytes; None without storage, when missing or too large."""
    if storage is None or key is None:
        return None
    data = bytearray()
    try:
        async for chunk in await storage.open_read(thumbnail_key(key)):
            data += chunk
            if len(data) > THUMB_BYTES_MAX:
                return None
    except (StorageError, OSError):
        return None
    return bytes(data)


async def collect(conn: asyncpg.Connection, project_id: uuid.UUID, *,
                  start: dt.date | None = None, end: dt.date | None = None,
                  paper: Paper = "a4", storage: Storage | None = None,
                  now: dt.datetime | None = None) -> tuple[Report, int]:
    """The report's data as the connection's user may see it, and its table rows; 404 when
    the project is not visible, 422 for a bad period or paper."""
    if paper not in PAPERS:
        raise Invalid("Unknown paper size", errors=[{"field": "paper",
                                                     "message": "a4 or letter"}])
    check_period(start, end)
    head = await queries.header(conn, project_id)
    if head is None:
        raise NotFound("No such project")
    cal = calendar.of_row(head)
    zone = calendar.zone(cal.zone)
    now = now or dt.datetime.now(dt.UTC)
    today = rules_calendar.today(now, zone)
    start, end = period(start, end, today)
    since, until = _local_midnight(start, zone), _local_midnight(end + dt.timedelta(days=1), zone)
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    client = is_client(head["viewer_role"] or "")

    summary = await queries.summary(conn, project_id)
    assert summary is not None  # the header saw the project in this same transaction
    counts = await queries.period_counts(conn, project_id, since, until)
    changes = await queries.progress_changes(conn, project_id, since, until)
    done = await queries.tasks_done_by_day(
        conn, project_id, [_local_midnight(d + dt.timedelta(days=1), zone) for d in days])
    submittals, submittals_total = await queries.submittals(conn, project_id, SUBMITTALS_MAX)
    revised = await queries.revised_drawings(conn, project_id, since, until, REVISED_MAX)
    logo = await queries.logo(conn, head["org_id"])
    report = Report(
        paper=paper, firm=head["org_name"], logo=bytes(logo["data"]) if logo else None,
        project=head["name"],
        client=head["client_name"], manager=head["manager_name"], status=head["status"],
        time_zone=cal.zone, start=start, end=end, today=today,
        generated_at=now.astimezone(zone),
        figures=_figures(summary, counts, client),
        tasks_by_status=dict(sorted((summary["tasks_by_status"] or {}).items())),
        progress=_progress(days, changes, done, zone),
        shop_drawings_by_status=dict(sorted((summary["drawings_by_status"] or {}).items())),
        specs_by_status=dict(sorted((summary["specs_by_status"] or {}).items())),
        register_by_status=await queries.register_by_status(conn, project_id),
        overdue=_overdue(await queries.overdue_by_holder(conn, project_id, today)),
        submittals=[(r["kind"], r["number"], r["title"], r["revision"] or "",
                     r["status"].replace("_", " "), _local_day(r["submitted_at"], zone),
                     _local_day(r["decided_at"], zone)) for r in submittals],
        submittals_total=submittals_total,
        revised=[(r["number"], r["title"], r["revision"], r["status"],
                  _local_day(r["published_at"], zone),
                  await _thumbnail(storage, r["storage_key"])) for r in revised],
    )
    return report, len(submittals)


def _child_setup() -> None:
    """In each drawing child, first: no settings or secrets of the server's environment,
    and an address-space limit (a report is tens of MiB; a runaway one stops there)."""
    os.environ.clear()
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))


def _executor() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(max_workers=2, initializer=_child_setup,
                                    mp_context=multiprocessing.get_context("spawn"))
    return _pool


async def render_pdf(report: Report, *, wait: bool = False) -> bytes:
    """The PDF, drawn in a child process; 429 when this worker already draws MAX_PENDING,
    or with `wait` (a background job, which has no one to answer 429 to) once one is done."""
    global _pending
    while _pending >= MAX_PENDING:
        if not wait:
            raise TooManyRequests("Too many reports are being drawn: try again in a few "
                                  "seconds", headers={"Retry-After": "5"})
        await asyncio.sleep(0.5)
    _pending += 1
    try:
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.run_in_executor(_executor(), render, report),
                                      RENDER_TIMEOUT)
    finally:
        _pending -= 1


async def build(conn: asyncpg.Connection, project_id: uuid.UUID, *,
                start: dt.date | None = None, end: dt.date | None = None,
                paper: Paper = "a4", storage: Storage | None = None,
                now: dt.datetime | None = None) -> WeeklyReport:
    report, rows = await collect(conn, project_id, start=start, end=end, paper=paper,
                                 storage=storage, now=now)
    return WeeklyReport(await render_pdf(report), rows, report.start, report.end)


async def weekly_report(conn: asyncpg.Connection, project_id: uuid.UUID, *,
                        start: dt.date | None = None, end: dt.date | None = None,
                        paper: Paper = "a4", storage: Storage | None = None) -> bytes:
    """The weekly report of a project as PDF bytes, read through `conn` (a connection inside
    the requester's transaction). `start`/`end`: dates in the project's time zone (default
    the last 7 days); `storage`: where drawing thumbnails are read (without it, none)."""
    return (await build(conn, project_id, start=start, end=end, paper=paper,
                        storage=storage)).pdf
