"""Reading the change feed on the leader's connection: unread audit rows -> events."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg

from db.queries import changes as q
from realtime.cursor import ReadPosition, Snapshot, cursor_after
from realtime.events import Event, event_from_audit

log = logging.getLogger("formula_pm.realtime.feed")

Emit = Callable[[list[Event]], Awaitable[None]]
Invalidate = Callable[[list[Event]], Awaitable[None]]


async def no_invalidation(events: list[Event]) -> None:
    """Default cache hook: nothing to invalidate."""


def _values(text: str | None) -> dict[str, Any] | None:
    # Exact decimals: money stays "12500.00", never a float.
    return None if text is None else json.loads(text, parse_float=Decimal)


def audit_event(row: Mapping[str, Any], xmin: int) -> Event | None:
    """The event of one audit row read (as text columns) in a snapshot with this xmin."""
    record = dict(row)
    record["new_values"] = _values(record["new_values"])
    record["old_values"] = _values(record["old_values"])
    record["details"] = _values(record.get("details"))
    return event_from_audit(record, cursor_after(record["txid"], record["id"], xmin))


@dataclass
class FeedStats:
    """What the leader has done so far (for health and metrics)."""

    emitted: int = 0
    rows: int = 0
    last_id: int = 0
    lag_sum: float = 0.0
    lag_count: int = 0
    lag_last: float = 0.0
    drained_at: float = field(default_factory=time.monotonic)


class Feed:
    """Reads every audit row exactly once per leader term, in (txid, id) order per read,
    and hands the events to the cache hook and then to the emitter."""

    def __init__(self, emit: Emit, invalidate: Invalidate, batch: int = 500) -> None:
        self.emit = emit
        self.invalidate = invalidate
        self.batch = batch
        self.stats = FeedStats()

    async def drain(self, conn: asyncpg.Connection, position: ReadPosition) -> Snapshot:
        """Publish every row after `position` visible now; the snapshot they were read in."""
        rows = await conn.fetch(q.UNREAD_WITH_SNAPSHOT, [str(x) for x in position.xip],
                                str(position.xmax), self.batch + 1)
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
            snapshot = Snapshot.parse(await conn.fetchval(q.SNAPSHOT))
            page: list[asyncpg.Record] = []
            async for row in conn.cursor(q.UNREAD, [str(x) for x in position.xip],
                                         str(position.xmax), prefetch=self.batch):
                page.append(row)
                if len(page) >= self.batch:
                    await self._publish(page, snapshot.xmin)
                    page = []
            await self._publish(page, snapshot.xmin)
        return snapshot

    async def _publish(self, rows: list[asyncpg.Record], xmin: int) -> None:
        if not rows:
            return
        events = [e for e in (audit_event(r, xmin) for r in rows) if e is not None]
        self.stats.rows += len(rows)
        self.stats.last_id = max(self.stats.last_id, max(r["id"] for r in rows))
        if not events:
            return
        try:
            await self.invalidate(events)
        except Exception:  # a cache failure must not stop the feed; entries expire anyway
            log.exception("cache invalidation failed")
        try:
            await self.emit(events)
        except Exception:  # the bus dropped them: clients recover through resync
            log.exception("emitting %d events failed", len(events))
        self._measure(rows, len(events))

    def _measure(self, rows: list[asyncpg.Record], emitted: int) -> None:
        now = time.time()
        lag = max(0.0, now - rows[-1]["at"].timestamp())
        self.stats.emitted += emitted
        self.stats.lag_sum += lag * emitted
        self.stats.lag_count += emitted
        self.stats.lag_last = lag
