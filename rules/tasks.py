"""What a task's status means for its progress and its completion time.

A completed task has progress 100 and a completion time; the first completion time is kept
while it stays completed (completing it again does not move it); any other status has
none. A change that leaves the status alone leaves both as they are. The route, the
database query (in SQL: `coalesce(completed_at, now())` / `NULL`) and the legacy import
all take the decision from `completion`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

COMPLETED = "completed"
DONE_PROGRESS = 100


class Stamp(Enum):
    """What happens to `completed_at`."""

    KEEP = "keep"  # the status does not change: completed_at stays as it is
    SET = "set"  # completed: the completion time it has, else now
    CLEAR = "clear"  # any other status: no completion time


@dataclass(frozen=True)
class Completion:
    """What a status change implies: the progress it forces (None: progress as given)
    and what becomes of the completion time."""

    progress: int | None
    completed_at: Stamp


def completion(status: str | None) -> Completion:
    """The consequences of setting a task's status to `status` (None: status unchanged)."""
    if status is None:
        return Completion(None, Stamp.KEEP)
    if status == COMPLETED:
        return Completion(DONE_PROGRESS, Stamp.SET)
    return Completion(None, Stamp.CLEAR)
