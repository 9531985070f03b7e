"""What completing a task means: progress 100 and a completion time, kept while completed."""

from __future__ import annotations

import pytest

from rules.enums import TASK_STATUSES
from rules.tasks import COMPLETED, Completion, Stamp, completion


def test_completing_forces_progress_and_sets_the_time() -> None:
    assert completion(COMPLETED) == Completion(progress=100, completed_at=Stamp.SET)


@pytest.mark.parametrize("status", [s for s in TASK_STATUSES if s != COMPLETED])
def test_any_other_status_clears_the_time_and_keeps_progress(status: str) -> None:
    assert completion(status) == Completion(progress=None, completed_at=Stamp.CLEAR)


def test_no_status_change_changes_nothing() -> None:
    assert completion(None) == Completion(progress=None, completed_at=Stamp.KEEP)


def test_completed_is_a_task_status() -> None:
    assert COMPLETED in TASK_STATUSES
