"""Positions in the change feed: opaque client cursors and PostgreSQL snapshots (pure)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

# A cursor names a point in the (txid, id) order of audit rows: "everything at or before it
# has been delivered, and nothing at or before it can still appear".
Cursor = tuple[int, int]
ORIGIN: Cursor = (0, 0)
_PREFIX = "c1"
BIGINT_MAX = 2**63 - 1


def encode_cursor(cursor: Cursor) -> str:
    txid, audit_id = cursor
    raw = f"{_PREFIX}:{txid}:{audit_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(value: object) -> Cursor:
    """The (txid, id) pair of a cursor string; ValueError when it is not one of ours."""
    if not isinstance(value, str) or not 0 < len(value) <= 100:
        raise ValueError("cursor must be a non-empty string")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("malformed cursor") from exc
    prefix, _, rest = raw.partition(":")
    txid, _, audit_id = rest.partition(":")
    if prefix != _PREFIX or not _position(txid) or not _position(audit_id):
        raise ValueError("malformed cursor")
    return int(txid), int(audit_id)


def _position(text: str) -> bool:
    """ASCII digits of a number PostgreSQL's bigint holds (what the server issues)."""
    return 0 < len(text) <= 19 and text.isascii() and text.isdigit() and int(text) <= BIGINT_MAX


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
