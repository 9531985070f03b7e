"""Thumbnail jobs of this worker: an attachment made ready is offered to the bounded queue
(files/queue.py), rendered in a limited child (files/thumbnails.py), and stored beside its
object (storage.keys.thumbnail_key). The attachment's `thumbnail` column says how it went
(ready, failed, none), which the thumbnail route and the sweep read.

file:// renders straight from the object's file to the thumbnail's; S3 downloads the
object to this worker's scratch folder first and uploads the thumbnail after."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from db.pool import system_transaction
from db.queries import attachments as queries
from files.queue import ThumbnailJob, ThumbnailQueue
from files.thumbnails import THUMBNAIL_MIME, Failed, Rendered
from files.types import PREVIEWABLE
from server.keys import BACKGROUND, POOL
from storage.backend import Storage
from storage.errors import StorageError
from storage.keys import thumbnail_key
from storage.local import LocalStorage

log = logging.getLogger("formula_pm.thumbnails")

THUMBNAIL_WIDTH = 400
READY, FAILED, NONE = "ready", "failed", "none"


class Thumbnailer:
    def __init__(self, app: web.Application, storage: Storage, scratch: Path) -> None:
        self.app = app
        self.storage = storage
        self.scratch = scratch
        self.queue: ThumbnailQueue | None = None
        self._busy: set[str] = set()  # keys downloading, queued or rendering
        self.settled = asyncio.Event()  # set whenever nothing is in flight (for tests)
        self.settled.set()

    def offer(self, key: str, kind: str) -> bool:
        """Queue the thumbnail of the object under `key` (of files.types `kind`); False
        when it cannot be queued now (the sweep offers it again)."""
        if kind not in PREVIEWABLE or self.queue is None:
            return False
        if key in self._busy:
            return True
        if isinstance(self.storage, LocalStorage):
            job = ThumbnailJob(self.storage.path(key), kind,
                               self.storage.path(thumbnail_key(key)), key, THUMBNAIL_WIDTH)
            return self._queue(job)
        self._start(key)
        self.app[BACKGROUND].spawn(self._fetch_then_queue(key, kind), name="thumbnail-fetch")
        return True

    def _start(self, key: str) -> None:
        self._busy.add(key)
        self.settled.clear()

    def _end(self, key: str) -> None:
        self._busy.discard(key)
        if not self._busy:
            self.settled.set()

    def _queue(self, job: ThumbnailJob) -> bool:
        assert self.queue is not None
        self._start(job.key)
        if self.queue.offer(job):
            return True
        self._cleanup(job)
        return False

    def _scratch(self, key: str) -> tuple[Path, Path]:
        name = hashlib.sha256(key.encode()).hexdigest()
        return self.scratch / name, self.scratch / f"{name}.webp"

    async def _fetch_then_queue(self, key: str, kind: str) -> None:
        src, dest = self._scratch(key)
        try:
            chunks = await self.storage.open_read(key)
            await asyncio.to_thread(src.unlink, missing_ok=True)
            with src.open("wb") as file:
                async for chunk in chunks:
                    await asyncio.to_thread(file.write, chunk)
        except (StorageError, OSError) as exc:
            log.warning("thumbnail source of %s not fetched: %s", key, exc)
            src.unlink(missing_ok=True)
            self._end(key)
            return
        self._busy.discard(key)  # _queue marks it again
        self._queue(ThumbnailJob(src, kind, dest, key, THUMBNAIL_WIDTH))

    async def done(self, job: ThumbnailJob, outcome: Rendered | Failed) -> None:
        """The queue's hook: store the thumbnail (S3) and record how it went."""
        try:
            state = READY if isinstance(outcome, Rendered) else FAILED
            if state == READY and not isinstance(self.storage, LocalStorage):
                await self.storage.put_stream(thumbnail_key(job.key), _chunks(job.dest_path),
                                              content_type=THUMBNAIL_MIME)
            async with system_transaction(self.app[POOL]) as conn:
                await queries.set_thumbnail(conn, job.key, state)
        finally:
            self._cleanup(job)

    def _cleanup(self, job: ThumbnailJob) -> None:
        if not isinstance(self.storage, LocalStorage):
            job.src_path.unlink(missing_ok=True)
            job.dest_path.unlink(missing_ok=True)
        self._end(job.key)

    async def close(self) -> None:
        self._busy.clear()
        self.settled.set()


async def _chunks(path: Path, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    with path.open("rb") as file:
        while chunk := await asyncio.to_thread(file.read, size):
            yield chunk


THUMBNAILS = web.AppKey("thumbnails", Thumbnailer)
