"""A worker's own copy of the session facts it has read, for writes the database confirms.

With a shared cache every request first reads the caller's session facts from Redis: one
round trip before anything else. A write whose handler's first effect is a database
transaction (marked `@confirmed_in_database`) skips it when this worker has read the same
session lately: the caller's identity is built from the copy here, and every transaction of
the request checks the session in its first round trip (`db.pool.SessionProof`, migration
0035: revoked, expired, user no longer active or of another role) before any of the
handler's statements runs. A revocation is so refused on every worker from the moment it
commits, without a message having to reach the copies. An answer that no transaction
confirmed (the handler refused the request before writing) is held until the session has
been checked the ordinary way, so a revoked token is answered 401 whatever it sent.

A copy lives as long as the shared entry may (`SESSION_CACHE_TTL`, 30 s), so the facts
that change without ending a session (the email) are as fresh as there.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

MAX_COPIES = 10_000
CONFIRMED_IN_DATABASE = "__fpm_confirmed_in_database__"

H = TypeVar("H")


def confirmed_in_database(handler: H) -> H:
    """Mark a handler whose first effect (before any file, cache, mail or socket effect) is
    a database transaction, so its session may be confirmed there (see the module)."""
    setattr(handler, CONFIRMED_IN_DATABASE, True)
    return handler


def is_confirmed_in_database(handler: Any) -> bool:
    return getattr(handler, CONFIRMED_IN_DATABASE, False) is True


class SessionCopies:
    """Raw session facts (the shared cache's JSON) by session id, for `ttl` seconds."""

    def __init__(self, ttl: float, max_items: int = MAX_COPIES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._max = max_items
        self._clock = clock
        self._items: dict[uuid.UUID, tuple[float, bytes]] = {}

    def get(self, session_id: uuid.UUID) -> bytes | None:
        item = self._items.get(session_id)
        if item is None:
            return None
        if item[0] < self._clock():
            del self._items[session_id]
            return None
        return item[1]

    def put(self, session_id: uuid.UUID, raw: bytes) -> None:
        if session_id not in self._items and len(self._items) >= self._max:
            # The oldest copy goes (dicts keep insertion order): bounded memory, and a
            # dropped copy only means one more read of the shared cache.
            del self._items[next(iter(self._items))]
        self._items[session_id] = (self._clock() + self._ttl, raw)

    def drop(self, *session_ids: uuid.UUID) -> None:
        for session_id in session_ids:
            self._items.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._items)
