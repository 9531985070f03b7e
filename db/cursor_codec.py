"""Every opaque cursor the service hands out, REST list pages and the change feed alike:
URL-safe base64 without padding of a short text, encoded and decoded here (pure).

The four shapes are wire formats that clients hold on to: change none of them.
- a list page: the JSON array `[field, descending, value, id]`;
- a search page: `[score, type, id, fingerprint of the search]`;
- an audit page: `["audit", descending, last id]`;
- the change feed: the text `c1:<txid>:<audit id>`.

Decoders raise ValueError for anything that is not a cursor of their shape (the caller
turns it into its own problem or acknowledgement).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from db.json_depth import loads_bounded

# A position in the change feed: (txid, audit id).
Cursor = tuple[int, int]
BIGINT_MAX = 2**63 - 1
_FEED_PREFIX = "c1"
_MAX_FEED_CURSOR = 100


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError("malformed cursor") from exc


def _pack(values: list[Any]) -> str:
    return _encode(json.dumps(values).encode())


def _unpack(text: str, size: int) -> list[Any]:
    """The JSON array of a cursor, with `size` flat items; ValueError otherwise."""
    try:
        values = loads_bounded(_decode(text), 1)
        items = list(values)
    except (TypeError, RecursionError) as exc:
        raise ValueError("malformed cursor") from exc
    if len(items) != size:
        raise ValueError("malformed cursor")
    return items


def _uuid_text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("malformed cursor")
    uuid.UUID(value)
    return value


# --- list pages (keyset on one sortable field, then id) ------------------------------------

def _value_text(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def encode_page_cursor(field: str, descending: bool, value: Any, record_id: Any) -> str:
    return _pack([field, descending, _value_text(value), str(record_id)])


def decode_page_cursor(text: str) -> tuple[str, bool, str, str]:
    """(field, descending, value as text, record id as text)."""
    field, descending, value, record_id = _unpack(text, 4)
    return str(field), bool(descending), str(value), _uuid_text(record_id)


# --- search pages (rank, then type and id; bound to one search) ----------------------------

def encode_search_cursor(score: Decimal, type_: str, record_id: uuid.UUID,
                         fingerprint: str) -> str:
    return _pack([str(score), type_, str(record_id), fingerprint])


def decode_search_cursor(text: str) -> tuple[Decimal, str, uuid.UUID, Any]:
    """(score, type, record id, fingerprint); the score is a finite number."""
    score, type_, record_id, fingerprint = _unpack(text, 4)
    try:
        rank = Decimal(score)
    except (TypeError, InvalidOperation) as exc:
        raise ValueError("malformed cursor") from exc
    if not rank.is_finite():
        raise ValueError("malformed cursor")
    return rank, str(type_), uuid.UUID(_uuid_text(record_id)), fingerprint


# --- audit pages (keyset on the audit row id) ----------------------------------------------

def encode_audit_cursor(descending: bool, last_id: int) -> str:
    return _pack(["audit", descending, last_id])


def decode_audit_cursor(text: str, descending: bool) -> int:
    """The last id of the page before, for a cursor of this direction."""
    kind, direction, last_id = _unpack(text, 3)
    if kind != "audit" or direction != descending or not isinstance(last_id, int):
        raise ValueError("malformed cursor")
    return last_id


# --- the change feed -----------------------------------------------------------------------

def encode_feed_cursor(cursor: Cursor) -> str:
    txid, audit_id = cursor
    return _encode(f"{_FEED_PREFIX}:{txid}:{audit_id}".encode())


def decode_feed_cursor(value: object) -> Cursor:
    """The (txid, id) pair of a cursor string; ValueError when it is not one of ours."""
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_FEED_CURSOR:
        raise ValueError("cursor must be a non-empty string")
    try:
        raw = _decode(value).decode()
    except UnicodeDecodeError as exc:
        raise ValueError("malformed cursor") from exc
    prefix, _, rest = raw.partition(":")
    txid, _, audit_id = rest.partition(":")
    if prefix != _FEED_PREFIX or not _position(txid) or not _position(audit_id):
        raise ValueError("malformed cursor")
    return int(txid), int(audit_id)


def _position(text: str) -> bool:
    """ASCII digits of a number PostgreSQL's bigint holds (what the server issues)."""
    return 0 < len(text) <= 19 and text.isascii() and text.isdigit() and int(text) <= BIGINT_MAX
