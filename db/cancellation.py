"""Ending a task that was asked to stop, when its database or Redis client hid the request.

On Python 3.11 a cancel that lands while a client call's timeout fires comes back from the
call as that timeout (`asyncio.timeout` turns it into TimeoutError; asyncpg and redis-py
raise their own), and a loop that logs failures and goes on takes it for an outage: it
would run for ever, and whoever awaits it at shutdown would wait for ever. Every such loop
calls `stop_if_cancelled` each turn.
"""

from __future__ import annotations

import asyncio


def stop_if_cancelled() -> None:
    """Raise CancelledError if the current task has been asked to stop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
