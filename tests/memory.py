"""Memory measured the way the bounds in the issues are stated: the peak resident size of
this process (and, when asked, of its children) while something runs, against before."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

import psutil

MiB = 1024 * 1024
# Lines of a plausible text file, for bodies generated on the fly (never held whole).
LINE = b"2026-12-05 site diary: level 3 ceiling grid checked, no snags\n"
BLOCK = LINE * (64 * 1024 // len(LINE))


async def generated(size: int, digest: Any) -> AsyncIterator[bytes]:
    """`size` bytes in 64 KiB blocks, each added to `digest` (a hashlib object) as sent."""
    sent = 0
    while sent < size:
        block = BLOCK[:size - sent]
        digest.update(block)
        sent += len(block)
        yield block


class PeakRss:
    """`async with PeakRss() as rss: …` then `rss.growth`: the highest resident size seen
    (sampled every `every` seconds) less the size when the block began."""

    def __init__(self, *, children: bool = False, every: float = 0.01) -> None:
        self.children = children
        self.every = every
        self.baseline = self.peak = 0
        self._done = asyncio.Event()
        self._sampler: asyncio.Task[None] | None = None

    def _rss(self) -> int:
        process = psutil.Process()
        rss = int(process.memory_info().rss)
        if self.children:
            for child in process.children(recursive=True):
                with contextlib.suppress(psutil.Error):  # one that ended since it was listed
                    rss += int(child.memory_info().rss)
        return rss

    async def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, self._rss())
            await asyncio.sleep(self.every)

    @property
    def growth(self) -> int:
        return self.peak - self.baseline

    async def __aenter__(self) -> PeakRss:
        self.baseline = self.peak = self._rss()
        self._sampler = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._done.set()
        assert self._sampler is not None
        await self._sampler
        self.peak = max(self.peak, self._rss())
