"""Work a worker repeats for its whole life (the file sweep, the export sweep, the
procurement check, the daily reminders): one loop, one way to fail.

A pass that fails is logged and the next one runs as planned. The database, the network or
the storage being away is a warning; anything else is a bug, logged with its traceback —
neither ends the loop, so one bad row never stops the job for the rest of the worker's life.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import asyncpg

from db.cancellation import stop_if_cancelled
from storage.errors import StorageError

log = logging.getLogger("formula_pm.periodic")

# Failures of what a pass talks to, not of the pass's own code.
OUTAGES = (asyncpg.PostgresError, OSError, TimeoutError, StorageError)


async def every(interval: float, name: str, work: Callable[[], Awaitable[Any]],
                facts: Callable[[Any], Mapping[str, Any] | None] = lambda _: None) -> None:
    """Run `work` every `interval` seconds until cancelled; log `facts(result)` when it
    says something (None: a pass with nothing to report)."""
    while True:
        stop_if_cancelled()
        await asyncio.sleep(interval)
        try:
            result = await work()
        except OUTAGES as exc:
            log.warning("%s failed, next in %.0f s: %s", name, interval, exc)
            continue
        except Exception:
            log.exception("%s failed, next in %.0f s", name, interval)
            continue
        said = facts(result)
        if said:
            log.info(name, extra=dict(said))


@contextlib.asynccontextmanager
async def running(interval: float, name: str, work: Callable[[], Awaitable[Any]],
                  facts: Callable[[Any], Mapping[str, Any] | None] = lambda _: None
                  ) -> AsyncIterator[None]:
    """`every` as a task for the duration of the block; cancelled and awaited at its end."""
    task = asyncio.create_task(every(interval, name, work, facts), name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
