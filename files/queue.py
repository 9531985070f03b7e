"""A worker's bounded queue of thumbnail jobs, rendered by N child processes at a time.

A full queue refuses a job instead of growing: `offer` answers False, and the job is not
lost, because whoever keeps the file's record (the attachment row, a thumbnail not yet
stored beside the object) knows the thumbnail is still missing; a periodic sweep offers
those files again. A job for a destination already queued or rendering is not queued twice,
so a sweep may offer the same files every time it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from files.thumbnails import DEFAULT_LIMITS, Failed, Limits, Rendered, render_thumbnail

log = logging.getLogger("formula_pm.thumbnails")


@dataclass(frozen=True)
class ThumbnailJob:
    src_path: Path
    kind: str  # a files.types name
    dest_path: Path
    key: str = ""  # the caller's name for the object (its storage key), for the done hook
    width: int = 400


DepthHook = Callable[[int], None]  # e.g. a Prometheus Gauge's `set`
DoneHook = Callable[[ThumbnailJob, Rendered | Failed], Awaitable[None]]


class ThumbnailQueue:
    def __init__(self, *, capacity: int = 64, concurrency: int = 1, limits: Limits = DEFAULT_LIMITS,
                 on_depth: DepthHook | None = None, on_done: DoneHook | None = None) -> None:
        self._jobs: asyncio.Queue[ThumbnailJob] = asyncio.Queue(capacity)
        self._concurrency = concurrency
        self._limits = limits
        self._on_depth = on_depth
        self._on_done = on_done
        self._pending: set[Path] = set()  # destinations queued or rendering
        self._workers: list[asyncio.Task[None]] = []
        self.refused = 0  # jobs turned away because the queue was full

    @property
    def depth(self) -> int:
        """Jobs waiting for a child (not counting those rendering)."""
        return self._jobs.qsize()

    def offer(self, job: ThumbnailJob) -> bool:
        """Queue the job; False when the queue is full (the job is dropped)."""
        if job.dest_path in self._pending:
            return True
        try:
            self._jobs.put_nowait(job)
        except asyncio.QueueFull:
            self.refused += 1
            log.warning("thumbnail queue full: %s refused", job.key or job.src_path)
            return False
        self._pending.add(job.dest_path)
        self._report()
        return True

    async def start(self) -> None:
        self._workers = [asyncio.create_task(self._work(), name=f"thumbnails-{n}")
                         for n in range(self._concurrency)]

    async def join(self) -> None:
        """Until every queued job is done."""
        await self._jobs.join()

    async def stop(self) -> None:
        """Stop at once: a render in progress is killed, queued jobs are dropped (the sweep
        finds them again)."""
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._workers = []

    async def _work(self) -> None:
        while True:
            job = await self._jobs.get()
            self._report()
            try:
                outcome = await render_thumbnail(job.src_path, job.kind, job.dest_path,
                                                 job.width, limits=self._limits)
                if isinstance(outcome, Failed):
                    log.info("no thumbnail for %s: %s (%s)", job.key or job.src_path,
                             outcome.reason, outcome.detail)
                if self._on_done is not None:
                    await self._on_done(job, outcome)
            except Exception:  # a failing hook or a vanished file must not end the worker
                log.exception("thumbnail job for %s failed", job.key or job.src_path)
            finally:
                self._pending.discard(job.dest_path)
                self._jobs.task_done()

    def _report(self) -> None:
        if self._on_depth is not None:
            self._on_depth(self.depth)
