"""The service's own events on the audit trail (startup, shutdown, backups, errors...).

They carry no organisation: they are the installation's, read by operators with
`formula-pm audit list --system`. Org admins see the few that concern every organisation
(backups) through a row-level security policy.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

import asyncpg

from db.queries.events import record_event

log = logging.getLogger("formula_pm.system_events")

STARTUP = "startup"
SHUTDOWN = "shutdown"
LEADER_CHANGED = "leader_changed"
MIGRATION_APPLIED = "migration_applied"
BACKUP_COMPLETED = "backup_completed"
BACKUP_FAILED = "backup_failed"
SERVER_ERROR = "server_error"
SYSTEM_ACTIONS = (STARTUP, SHUTDOWN, LEADER_CHANGED, MIGRATION_APPLIED, BACKUP_COMPLETED,
                  BACKUP_FAILED, SERVER_ERROR)


async def record_with_url(url: str, action: str, details: dict[str, Any]) -> int | None:
    """From a command: connect, write the row, disconnect; None (logged) when it cannot
    be written (the database is what failed, or it predates the audit log)."""
    try:
        conn = await asyncpg.connect(url, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        log.warning("could not record %s: %s", action, exc)
        return None
    try:
        return await record_event(conn, action, details)
    except asyncpg.PostgresError as exc:
        log.warning("could not record %s: %s", action, exc)
        return None
    finally:
        await conn.close()


def email_fingerprint(secret: str, email: str) -> str:
    """A keyed hash of an address nobody has: people type passwords into the e-mail field,
    so the text itself is never stored. The same address gives the same fingerprint (an
    operator can tell one guesser from many) under the same JWT_SECRET."""
    key = hashlib.sha256(b"formula-pm unknown-email v1\x00" + secret.encode()).digest()
    return hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()[:32]
