"""The audit log's hash chain: the canonical form of a row, one step of the chain, and the
walk that checks a chain link by link (pure; the leader and `formula-pm audit verify` feed
it rows read from the database).

One chain per organisation, and one (`service`) for rows of no organisation. Each chains
its rows in the change feed's (txid, id) order, once every transaction that could still
write before them has finished:

    hash(n) = sha256(hash(n - 1) || canonical(row n)),  hash(0) = 32 zero bytes

The canonical form holds the row's keys and facts as they are (ids, table, action, changed
field names, time to the microsecond) but every value that can be personal only as its
sha256 digest: the old and new values, the details, the IP address and the user agent.
The actor is the user's id: a random UUID, whose link to a person lives in `users` alone.
So a person's values can be erased from the log (the erasure keeps each digest in
`audit_erasures`) and the chain still verifies.

A digest is taken over PostgreSQL's text form of the value: jsonb's text is already
canonical (keys sorted, duplicates gone, fixed spacing), so the same digest can be taken in
SQL (`sha256(convert_to(v::text, 'UTF8'))`) where values are erased.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

VERSION = "fpm-audit-chain-1"
SERVICE_CHAIN = "service"
GENESIS = bytes(32)
# The columns whose values are chained only as digests (and that an erasure may clear),
# and the names the digests go by in a row read for the chain.
PERSONAL = ("ip", "user_agent", "old_values", "new_values", "details")
DIGESTS = tuple(f"d_{name}" for name in PERSONAL)
# The canonical row's plain fields, in order (ids as text).
PLAIN = ("id", "txid", "org_id", "project_id", "table_name", "record_id", "action",
         "changed_fields", "user_id", "request_id", "origin_sid", "at_us", "bulk")


def chain_of(org_id: object) -> str:
    """The chain a row belongs to: its organisation's id, or the service's chain."""
    return SERVICE_CHAIN if org_id is None else str(org_id)


def digest(text: str | None) -> bytes | None:
    """The digest of a personal value in its PostgreSQL text form (None stays None)."""
    return None if text is None else hashlib.sha256(text.encode()).digest()


def canonical(row: Mapping[str, Any], erased: Mapping[str, bytes] | None = None) -> bytes:
    """The bytes a row contributes to its chain. `row` holds the PLAIN fields (ids as text,
    `at_us` microseconds since the epoch) and the DIGESTS of the PERSONAL ones (None for
    no value); `erased` the digests kept for values erased since (they stand in for the
    digest of the erasure marker the row holds now)."""
    get = row.__getitem__  # spelled out: `verify` runs this for every row of the log
    parts: list[Any] = [
        VERSION, str(get("id")), get("txid"), _text(get("org_id")), _text(get("project_id")),
        get("table_name"), _text(get("record_id")), get("action"), get("changed_fields"),
        _text(get("user_id")), get("request_id"), get("origin_sid"), get("at_us"),
        get("bulk")]
    for name in DIGESTS:
        kept = erased.get(name[2:]) if erased else None
        value = kept if kept is not None else get(name)
        parts.append(None if value is None else value.hex())
    return _encode(parts).encode()


def with_digests(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row with its personal values (text) as the digests `canonical` reads (`d_ip` ...);
    the database computes the same in SQL when it reads rows for the chain."""
    return {**row, **{f"d_{name}": digest(row[name]) for name in PERSONAL}}


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _text(value: object) -> str | None:
    """An id as text (the database sends text; a UUID object gives the same)."""
    if value is None or isinstance(value, str):
        return value
    return str(value)


def step(previous: bytes, row: Mapping[str, Any],
         erased: Mapping[str, bytes] | None = None) -> bytes:
    """The hash of the link after `previous` for `row`."""
    return hashlib.sha256(previous + canonical(row, erased)).digest()


@dataclass(frozen=True)
class Break:
    """The first link of a chain that does not hold."""

    chain: str
    seq: int
    audit_id: int | None
    reason: str

    def describe(self) -> str:
        row = "" if self.audit_id is None else f" (audit row {self.audit_id})"
        return f"chain {self.chain}: link {self.seq}{row}: {self.reason}"


class Walk:
    """Checks one chain's links in order: each stored hash must be the step from the one
    before over the row as it is now, the sequence must have no gap, and the row must exist.

    Start it at the genesis, or (from a later link) at the stored hash of the link before."""

    def __init__(self, chain: str, previous: bytes = GENESIS, seq: int = 0) -> None:
        self.chain = chain
        self.previous = previous
        self.seq = seq
        self.count = 0
        self.broken: Break | None = None

    def add(self, seq: int, audit_id: int, stored: bytes, row: Mapping[str, Any] | None,
            erased: Mapping[str, bytes] | None = None) -> Break | None:
        """Check the next link; the break (also kept in `broken`) when it does not hold."""
        if self.broken is not None:
            return self.broken
        if seq != self.seq + 1:
            return self.fail(self.seq + 1, None,
                               f"link missing (the next stored link is {seq})")
        if row is None:
            return self.fail(seq, audit_id, "the audit row is gone")
        if step(self.previous, row, erased) != bytes(stored):
            return self.fail(seq, audit_id, "the audit row differs from what was chained")
        self.previous, self.seq = bytes(stored), seq
        self.count += 1
        return None

    def end(self, head_seq: int | None, head_hash: bytes | None) -> Break | None:
        """After the last link: the chain's recorded head must be that link."""
        if self.broken is not None or head_seq is None:
            return self.broken
        if head_seq > self.seq:
            return self.fail(self.seq + 1, None,
                               f"the chain ends at {self.seq} but its head is at {head_seq}")
        if head_seq == self.seq and head_hash is not None and bytes(head_hash) != self.previous:
            return self.fail(self.seq, None, "the head's hash is not the last link's")
        return None

    def fail(self, seq: int, audit_id: int | None, reason: str) -> Break:
        self.broken = Break(self.chain, seq, audit_id, reason)
        return self.broken


def head_record(chain: str, seq: int, last_id: int, hash_: bytes, at: str) -> dict[str, Any]:
    """A published chain head (an audit event's details, and a line of the heads file)."""
    return {"chain": chain, "seq": seq, "last_id": last_id, "hash": hash_.hex(), "at": at}


def parse_head(line: str) -> dict[str, Any] | None:
    """A head from one line of a heads file; None when the line is not one."""
    try:
        head = json.loads(line)
        if not isinstance(head, dict):
            return None
        record = {"chain": str(head["chain"]), "seq": int(head["seq"]),
                  "last_id": int(head["last_id"]), "hash": bytes.fromhex(head["hash"]),
                  "at": str(head.get("at", ""))}
    except (ValueError, KeyError, TypeError):
        return None
    return record
