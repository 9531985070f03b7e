"""A worker's repeated jobs (server/periodic.py) outlive their failures: an outage is a
warning, a bug an error with its traceback, and the next pass runs either way."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import pytest

from server.periodic import every, running
from tests.cancellation import CancelBecomes, assert_ends_when_cancelled


async def test_a_failing_pass_never_ends_the_loop(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []
    done = asyncio.Event()

    async def work() -> int:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("a bug in one row")
        if len(calls) == 2:
            raise asyncpg.PostgresConnectionError("the database went away")
        if len(calls) == 4:
            done.set()
        return len(calls)

    with caplog.at_level(logging.INFO, logger="formula_pm.periodic"):
        async with running(0.01, "test job", work, lambda n: {"n": n} if n == 3 else None):
            await asyncio.wait_for(done.wait(), 5)
    records = [(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records]
    assert ("ERROR", "test job failed, next in 0 s", True) in records
    assert any(level == "WARNING" and "the database went away" in message
               for level, message, _ in records)
    assert [r for r in caplog.records if r.levelname == "INFO" and r.getMessage() == "test job"]
    assert len(calls) >= 4


async def test_a_cancel_that_comes_back_as_a_timeout_still_ends_the_loop() -> None:
    """Python 3.11's asyncio.timeout can turn a cancel into TimeoutError inside a client
    call; the loop must end anyway, or shutdown waits for it for ever."""
    work = CancelBecomes(TimeoutError("what the race leaves"))
    await assert_ends_when_cancelled(asyncio.create_task(every(0.01, "test job", work)), work)
