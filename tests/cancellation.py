"""A call whose cancel comes back as another error, and the check that a loop still ends.

On Python 3.11 a cancel that lands while a client's `asyncio.timeout` fires can come back
as that client's TimeoutError; loops that outlive failures must end anyway
(`db/cancellation.py`). Tests put `CancelBecomes(error)` where the loop's call goes."""

from __future__ import annotations

import asyncio
from typing import Any


class CancelBecomes:
    """An async call that waits until cancelled, then raises `error` instead."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.entered = asyncio.Event()

    async def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.entered.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            raise self.error from None


async def assert_ends_when_cancelled(task: asyncio.Task[Any], call: CancelBecomes) -> None:
    """Cancel `task` once it is inside `call`; it must end as cancelled within 5 s."""
    await asyncio.wait_for(call.entered.wait(), 5)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)  # not wait_for: it would wait for ever
    assert task in done and task.cancelled()
