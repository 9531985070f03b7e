"""`eventually`, the one wait of the test suite."""

from __future__ import annotations

import time

import pytest

from tests.waiting import NotInTime, eventually


async def test_returns_the_first_truthy_value_of_a_plain_check() -> None:
    calls: list[int] = []

    def check() -> list[int]:
        calls.append(1)
        return calls if len(calls) >= 3 else []

    assert await eventually(check, limit=5, interval=0.001) == [1, 1, 1]


async def test_awaits_an_async_check() -> None:
    started = time.monotonic()

    async def later() -> str | None:
        return "done" if time.monotonic() - started > 0.05 else None

    assert await eventually(later, limit=5, interval=0.01) == "done"


async def test_says_what_it_waited_for_and_what_it_saw() -> None:
    seen = ["a", "b"]
    with pytest.raises(NotInTime) as failed:
        await eventually(lambda: len(seen) > 2, limit=0.05, interval=0.01,
                         explain=lambda: f"received {seen}")
    message = str(failed.value)
    assert "not within 0.05s" in message and "len(seen) > 2" in message
    assert "last value: False" in message and "received ['a', 'b']" in message
    assert isinstance(failed.value, AssertionError)


async def test_an_error_in_the_check_is_not_retried() -> None:
    calls: list[int] = []

    def broken() -> bool:
        calls.append(1)
        raise KeyError("gone")

    with pytest.raises(KeyError):
        await eventually(broken, limit=5, interval=0.01)
    assert calls == [1]
