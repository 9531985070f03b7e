"""Reading the change feed on the leader's connection: unread audit rows -> events."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from db.json_depth import loads_bounded
from db.queries import changes as q
from realtime.feed.cursor import ReadPosition, Snapshot, cursor_after
from realtime.feed.events import Event, bare_event, event_from_audit

log = logging.getLogger("formula_pm.realtime.feed")

# Values nested deeper than this are not sent: the API stores nothing deeper than 17 levels
# (a body's free-form values: 16), and every later step that walks an event (python-socketio
# looking for binary data, json on the way to Redis and to each socket) recurses.
MAX_VALUES_DEPTH = 32
# At most one log line per this many seconds about rows that could not become events.
FAILURE_LOG_EVERY = 60.0

Emit = Callable[[list[Event]], Awaitable[None]]
# Called with each batch before it is emitted (the app ends the sessions of changed users).
BeforeEmit = Callable[[list[Event]], Awaitable[None]]
# Called with the commit-to-emit delay of each event sent (a histogram's `observe`).
ObserveLag = Callable[[float], None]


async def nothing_first(events: list[Event]) -> None:
    """Default hook before emitting: nothing."""


def _values(text: str | None) -> dict[str, Any] | None:
    # Exact decimals as their own text: money stays "12500.00", never a float. Parsed so,
    # everything in the result is a JSON type, however deep: nothing needs converting.
    return None if text is None else loads_bounded(text, MAX_VALUES_DEPTH, parse_float=str)


def audit_event(row: Mapping[str, Any], xmin: int) -> Event | None:
    """The event of one audit row read (as text columns) in a snapshot with this xmin;
    raises when the row cannot be one (see `row_event`)."""
    record = dict(row)
    record["new_values"] = _values(record["new_values"])
    record["old_values"] = _values(record["old_values"])
    record["details"] = _values(record.get("details"))
    return event_from_audit(record, cursor_after(record["txid"], record["id"], xmin))


class RowFailures:
    """Audit rows that could not be turned into events: counted, and logged at most once
    per `every` seconds with the count since the last line (no traceback: a poisoned row
    read again and again must not flood the log)."""

    def __init__(self, where: str, every: float = FAILURE_LOG_EVERY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.where = where
        self.every = every
        self.clock = clock
        self.count = 0
        self._unlogged = 0
        self._logged_at = -math.inf

    def note(self, row: Mapping[str, Any], exc: BaseException) -> None:
        self.count += 1
        self._unlogged += 1
        now = self.clock()
        if now - self._logged_at < self.every:
            return
        log.error("%s: %d audit row(s) could not be turned into events and went out without "
                  "their values (latest: id %s, table %s: %s: %.200s)", self.where,
                  self._unlogged, row.get("id"), row.get("table_name"), type(exc).__name__, exc)
        self._unlogged, self._logged_at = 0, now


def row_event(row: Mapping[str, Any], xmin: int, failures: RowFailures) -> Event | None:
    """`audit_event`, except that one row that cannot be an event never stops the rest:
    it is counted and becomes a `bare_event` (no values), or nothing."""
    try:
        return audit_event(row, xmin)
    except Exception as exc:  # any failure at all, RecursionError included
        failures.note(row, exc)
    try:
        return bare_event(row, cursor_after(row["txid"], row["id"], xmin))
    except Exception:  # not even its own columns make an event: counted and logged above
        return None


@dataclass
class FeedStats:
    """What the leader has done so far (for health and metrics)."""

    emitted: int = 0
    rows: int = 0
    last_id: int = 0
    lag_last: float = 0.0
    drained_at: float = field(default_factory=time.monotonic)


class Feed:
    """Reads every audit row exactly once per leader term, in (txid, id) order per read,
    and hands the events to the hook before emitting and then to the emitter."""

    def __init__(self, emit: Emit, before_emit: BeforeEmit, batch: int = 500,
                 observe_lag: ObserveLag | None = None) -> None:
        self.emit = emit
        self.before_emit = before_emit
        self.batch = batch
        self.observe_lag = observe_lag
        self.stats = FeedStats()
        self.failures = RowFailures("change feed")

    async def drain(self, conn: asyncpg.Connection, position: ReadPosition) -> Snapshot:
        """Publish every row after `position` visible now; the snapshot they were read in."""
        rows = await q.unread_with_snapshot(conn, position.xip, position.xmax, self.batch + 1)
        snapshot = Snapshot.parse(rows[0]["snapshot"])
        found = [r for r in rows if r["id"] is not None]
        if len(found) <= self.batch:
            await self._publish(found, snapshot.xmin)
        else:
            snapshot = await self._drain_backlog(conn, position)
        self.stats.drained_at = time.monotonic()
        return snapshot

    async def _drain_backlog(self, conn: asyncpg.Connection, position: ReadPosition) -> Snapshot:
        """A large backlog: page through it in one repeatable-read snapshot."""
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = Snapshot.parse(await q.current_snapshot(conn))
            page: list[asyncpg.Record] = []
            async for row in q.unread_cursor(conn, position.xip, position.xmax, self.batch):
                page.append(row)
                if len(page) >= self.batch:
                    await self._publish(page, snapshot.xmin)
                    page = []
            await self._publish(page, snapshot.xmin)
        return snapshot

    async def _publish(self, rows: list[asyncpg.Record], xmin: int) -> None:
        if not rows:
            return
        events = [e for e in (row_event(r, xmin, self.failures) for r in rows) if e is not None]
        self.stats.rows += len(rows)
        self.stats.last_id = max(self.stats.last_id, max(r["id"] for r in rows))
        if not events:
            return
        try:
            await self.before_emit(events)
        except Exception:  # its failure must not stop the feed
            log.exception("the hook before emitting %d events failed", len(events))
        try:
            await self.emit(events)
        except Exception:  # the bus dropped them: clients recover through resync
            log.exception("emitting %d events failed", len(events))
        self._measure(rows, len(events))

    def _measure(self, rows: list[asyncpg.Record], emitted: int) -> None:
        now = time.time()
        lag = max(0.0, now - rows[-1]["at"].timestamp())
        self.stats.emitted += emitted
        self.stats.lag_last = lag
        if self.observe_lag is not None:
            for _ in range(emitted):  # the batch left at once: each event waited this long
                self.observe_lag(lag)
