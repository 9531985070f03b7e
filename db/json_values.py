"""JSON of the values PostgreSQL hands back (uuid, numeric, timestamps). The standard
library only: a process that just writes files imports it without the rest of `db`."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from typing import Any


def json_default(value: Any) -> Any:
    """JSON for the types PostgreSQL hands back (uuid, numeric, timestamps)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def compact(value: Any) -> str:
    """A value as JSON text without spaces, non-ASCII characters as they are."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=json_default)
