"""The thumbnail children of this test process, running or zombie, read from /proc."""

from __future__ import annotations

from pathlib import Path


def render_children() -> list[int]:
    pids = []
    for task in Path("/proc/self/task").iterdir():
        try:
            pids += [int(pid) for pid in (task / "children").read_text().split()]
        except FileNotFoundError:  # the thread ended while we looked
            continue
    return [pid for pid in pids if b"render.py" in _cmdline(pid)]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""
