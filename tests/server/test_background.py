"""Work left running after an answer: awaited, logged when it fails, cancelled at shutdown."""

from __future__ import annotations

import asyncio

import pytest

from server.background import Background


async def test_settle_waits_for_the_work() -> None:
    background, done = Background(), []

    async def work() -> None:
        await asyncio.sleep(0.01)
        done.append(1)

    background.spawn(work(), "work")
    assert not done
    await background.settle()
    assert done == [1]


async def test_a_failure_is_logged_not_lost(caplog: pytest.LogCaptureFixture) -> None:
    background = Background()

    async def broken() -> None:
        raise RuntimeError("smtp down")

    background.spawn(broken(), "mail")
    await background.settle()
    assert "background work failed" in caplog.text and "smtp down" in caplog.text


async def test_shutdown_finishes_quick_work_and_cancels_the_rest() -> None:
    background, events = Background(), []

    async def quick() -> None:
        await asyncio.sleep(0.01)
        events.append("quick done")

    async def stuck() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            events.append("stuck cancelled")
            raise

    background.spawn(quick(), "quick")
    background.spawn(stuck(), "stuck")
    await asyncio.wait_for(background.close(grace=0.2), 5)
    assert sorted(events) == ["quick done", "stuck cancelled"]
    late = asyncio.sleep(0)
    background.spawn(late, "late")  # refused (and closed) after shutdown began
    await background.settle()
