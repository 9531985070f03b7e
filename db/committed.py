"""What a committed transaction changed, and the subscribers it is reported to.

A write transaction given `on_commit` (`db.pool.transaction`, `system_transaction`) reads its
own audit rows just before COMMIT and, once committed, hands them to the subscriber as
`Change`s. The change leader maps the audit stream's events to the same type, so both the
writer's request and the leader invalidate through one `server.cache.store.invalidate`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg


@dataclass(frozen=True)
class Change:
    """What a change touched, as read from an audit row: the table and record, and the
    project and organisation they belong to (None where the row has none)."""

    table: str
    record_id: Any
    project_id: Any = None
    org_id: Any = None


# Called once after a write transaction commits, with everything it changed (maybe nothing).
OnCommit = Callable[[list[Change]], Awaitable[None]]


async def transaction_changes(conn: asyncpg.Connection) -> list[Change]:
    """What the current transaction has changed so far (`fpm_tx_changes()`: its own audit
    rows, distinct by table and record; SECURITY DEFINER, so whatever the role)."""
    return [Change(r["table_name"], r["record_id"], r["project_id"], r["org_id"])
            for r in await conn.fetch("SELECT * FROM fpm_tx_changes()")]
