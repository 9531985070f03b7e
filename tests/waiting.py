"""The one way a test waits for something that happens in the background."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class NotInTime(AssertionError):
    """A condition that did not come true within its limit."""


async def eventually(check: Callable[[], T | Awaitable[T]], *, limit: float = 10.0,
                     interval: float = 0.05,
                     explain: str | Callable[[], object] | None = None) -> T:
    """Call `check` (plain or async) every `interval` seconds until it returns something
    truthy, and return that; after `limit` seconds raise NotInTime with what was awaited,
    the last value seen and `explain` (a text, or called then for the current state).
    An exception from `check` is not retried: it fails the test at once."""
    started = time.monotonic()
    while True:
        result = check()
        value = await result if inspect.isawaitable(result) else result
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() - started > limit:
            raise NotInTime(_message(check, limit, value, explain))
        await asyncio.sleep(interval)


def _message(check: Callable[..., object], limit: float, value: object,
             explain: str | Callable[[], object] | None) -> str:
    what = getattr(check, "__qualname__", repr(check))
    if what.endswith("<lambda>"):
        try:
            what = inspect.getsource(check).strip()
        except (OSError, TypeError):
            pass
    text = f"not within {limit}s: {what} (last value: {value!r})"
    if explain is not None:
        text += f"; {explain() if callable(explain) else explain}"
    return text


async def until_healthy(url: str, *, alive: Callable[[], bool], log: Callable[[], str],
                        limit: float) -> None:
    """Until `url`/health answers 200 (a started `serve` is ready); fails at once, with the
    end of its log, when the process has died."""
    import aiohttp  # here: the pure helpers above serve tests that need no HTTP client

    async with aiohttp.ClientSession() as http:
        async def answers() -> bool:
            assert alive(), f"serve died: {log()[-3000:]}"
            try:
                async with http.get(f"{url}/health") as response:
                    return response.status == 200
            except aiohttp.ClientError:
                return False

        await eventually(answers, limit=limit, interval=0.1,
                         explain=lambda: f"serve not ready: {log()[-3000:]}")

