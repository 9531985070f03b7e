"""Positions in the change feed: resume points and PostgreSQL snapshots (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from db.cursor_codec import Cursor

# A cursor names a point in the (txid, id) order of audit rows: "everything at or before it
# has been delivered, and nothing at or before it can still appear". Its wire form is
# db.cursor_codec's (`encode_feed_cursor`, `decode_feed_cursor`).
ORIGIN: Cursor = (0, 0)


def cursor_after(txid: int, audit_id: int, xmin: int) -> Cursor:
    """The resume point after delivering row (txid, id) read in a snapshot with this xmin.

    Below xmin every transaction has finished, so the row itself is a safe point. At or
    above it a transaction still running may yet add rows with smaller ids: resume from
    the horizon instead (clients dedupe the repeats by id).
    """
    if txid < xmin:
        return (txid, audit_id)
    return (xmin, 0)


@dataclass(frozen=True)
class Snapshot:
    """A `pg_snapshot`: xmin, xmax and the transactions in progress between them."""

    xmin: int
    xmax: int
    xip: tuple[int, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Snapshot:
        """Parse the text form `xmin:xmax:xip1,xip2,...`."""
        xmin, xmax, xip = text.split(":")
        return cls(int(xmin), int(xmax), tuple(int(x) for x in xip.split(",") if x))


@dataclass(frozen=True)
class ReadPosition:
    """Which audit rows the leader has not read yet.

    After reading every visible row in snapshot S, the only rows still to come belong to
    transactions that were running at S (`xip`) or started after it (txid >= `xmax`):
    each row is read exactly once, however out of order transactions commit.
    """

    xmax: int
    xip: tuple[int, ...] = ()

    @classmethod
    def from_horizon(cls, horizon: int) -> ReadPosition:
        return cls(xmax=horizon)

    def after(self, snapshot: Snapshot) -> ReadPosition:
        return ReadPosition(xmax=snapshot.xmax, xip=snapshot.xip)
