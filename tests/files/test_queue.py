"""The per-worker thumbnail queue: bounded (a full queue refuses), its depth reported to a
gauge hook, jobs rendered by child processes whatever a job's file or hook does, and a
stop that kills the render in progress."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from files.queue import ThumbnailJob, ThumbnailQueue
from files.thumbnails import Failed, Limits, Rendered
from tests.files import samples
from tests.files.children import render_children
from tests.waiting import eventually


def job(tmp_path: Path, name: str, kind: str, data: bytes) -> ThumbnailJob:
    src = samples.write(tmp_path, f"{name}.{kind}", data)
    return ThumbnailJob(src, kind, tmp_path / f"{name}.thumb.webp", key=name)


async def test_a_full_queue_refuses_and_reports_its_depth(tmp_path: Path) -> None:
    depths: list[int] = []
    queue = ThumbnailQueue(capacity=2, on_depth=depths.append)  # not started: nothing drains
    first, second, third = (job(tmp_path, n, "png", b"x") for n in ("a", "b", "c"))
    assert queue.offer(first) and queue.offer(second)
    assert queue.offer(first)  # already queued: accepted once
    assert not queue.offer(third)
    assert (queue.depth, queue.refused, depths) == (2, 1, [1, 2])


async def test_jobs_are_rendered_and_a_bad_file_or_hook_ends_no_worker(tmp_path: Path) -> None:
    depths: list[int] = []
    done: dict[str, Rendered | Failed] = {}

    async def on_done(finished: ThumbnailJob, outcome: Rendered | Failed) -> None:
        done[finished.key] = outcome
        if finished.key == "photo":
            raise RuntimeError("the hook's own failure")

    queue = ThumbnailQueue(concurrency=2, on_depth=depths.append, on_done=on_done)
    jobs = [job(tmp_path, "sheet", "pdf", samples.a1_sheet()),
            job(tmp_path, "photo", "jpeg", samples.image("JPEG")),
            job(tmp_path, "broken", "png", samples.image("PNG")[:100]),
            job(tmp_path, "gone", "webp", b""), job(tmp_path, "model", "dxf", samples.DXF)]
    (tmp_path / "gone.webp").unlink()
    assert all(queue.offer(j) for j in jobs)
    await queue.start()
    await asyncio.wait_for(queue.join(), 30)
    await queue.stop()
    assert done["sheet"] == Rendered(400, 283) and done["photo"] == Rendered(400, 267)
    assert isinstance(done["broken"], Failed) and done["broken"].reason == "unreadable"
    assert isinstance(done["gone"], Failed) and done["gone"].reason == "unreadable"
    assert isinstance(done["model"], Failed) and done["model"].reason == "not_previewable"
    assert depths[:5] == [1, 2, 3, 4, 5] and depths[-1] == 0
    assert (tmp_path / "sheet.thumb.webp").exists()
    assert queue.offer(jobs[0])  # done jobs may be offered again


async def test_stop_kills_the_render_in_progress(tmp_path: Path) -> None:
    queue = ThumbnailQueue(limits=Limits(cpu_seconds=60, wall_seconds=60))
    assert queue.offer(job(tmp_path, "bomb", "pdf", samples.nested_forms_bomb()))
    await queue.start()
    await eventually(render_children, interval=0.02)
    started = time.monotonic()
    await queue.stop()
    assert time.monotonic() - started < 2
    assert render_children() == []
