"""Work a handler starts and leaves running after its answer, tracked by the app.

Shutdown gives the running work a short grace to finish, then cancels what is left, so no
task outlives the pool it uses and none is silently dropped mid-way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("formula_pm.background")

SHUTDOWN_GRACE = 10.0  # seconds the running work gets to finish at shutdown


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        if self._closed:
            work.close()
            log.warning("background work refused after shutdown began", extra={"task": name})
            return
        task = asyncio.create_task(self._guarded(work, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait until nothing is running (including work spawned by the work)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def close(self, grace: float = SHUTDOWN_GRACE) -> None:
        self._closed = True
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        pending = set(self._tasks)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if pending:
            log.warning("background work cancelled at shutdown", extra={"tasks": len(pending)})

    @staticmethod
    async def _guarded(work: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await work
        except Exception:
            # Nobody awaits this task: its failure is logged here or lost.
            log.exception("background work failed", extra={"task": name})
