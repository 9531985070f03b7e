"""Wiring of file storage into the app: the storage backend STORAGE_URL names (one per
worker, open for the app's life), this worker's thumbnail queue and its metrics, and the
periodic sweep (server/file_sweep.py)."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from files.queue import ThumbnailQueue
from server.file_sweep import SWEEP_INTERVAL, sweep, sweep_facts
from server.keys import METRICS, SETTINGS, STORAGE
from server.periodic import running
from server.thumbnail_jobs import THUMBNAILS, Thumbnailer
from storage.settings import open_storage

log = logging.getLogger("formula_pm.files")

# Seconds between two sweeps of this worker (one worker at a time does the work).
SWEEP_EVERY = web.AppKey("file_sweep_interval", float)


def setup_files(app: web.Application) -> None:
    """Open the storage and start the thumbnail queue and the sweep with the app."""
    app.setdefault(SWEEP_EVERY, SWEEP_INTERVAL)
    app.cleanup_ctx.append(_files_ctx)


async def _files_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with open_storage(settings.storage, settings.data_dir) as storage:
        app[STORAGE] = storage
        scratch = Path(tempfile.mkdtemp(prefix="fpm-thumbs-"))
        thumbnailer = Thumbnailer(app, storage, scratch)
        queue = ThumbnailQueue(capacity=settings.thumbnail_queue_size,
                               concurrency=settings.thumbnail_concurrency,
                               on_done=thumbnailer.done)
        thumbnailer.queue = queue
        app[THUMBNAILS] = thumbnailer
        app[METRICS].append(lambda: {"fpm_thumbnail_queue_depth": queue.depth,
                                     "fpm_thumbnail_jobs_refused_total": queue.refused})
        await queue.start()
        try:
            async with running(app[SWEEP_EVERY], "file sweep", lambda: sweep(app),
                               sweep_facts):
                yield
        finally:
            await queue.stop()
            await thumbnailer.close()
            shutil.rmtree(scratch, ignore_errors=True)
