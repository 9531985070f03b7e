"""The file sweep: every worker wakes every few minutes, and the one that gets the
advisory lock removes the objects of deleted attachments, expires uploads never completed
within a day (their objects, partial files and multipart uploads), aborts stale multipart
uploads the database no longer knows, and offers missing thumbnails to its queue again.

A row is purged only after its objects are removed, so a sweep that dies half-way is
finished by the next one."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from aiohttp import web

from db.pool import system_transaction
from db.queries import attachments as queries
from db.queries.locks import try_session_lock, unlock_session
from files.types import BY_EXTENSION, extension_of
from server.keys import POOL, STORAGE
from server.thumbnail_jobs import THUMBNAILS
from storage.backend import MultipartUpload, Storage
from storage.errors import StorageError
from storage.keys import thumbnail_key

log = logging.getLogger("formula_pm.files")

SWEEP_INTERVAL = 300.0  # seconds
PENDING_LIFETIME = timedelta(days=1)
BATCH = 200
LOCK = "attachments-sweep"


@dataclass
class SweepReport:
    removed: int = 0  # deleted attachments whose objects and rows are gone
    expired: int = 0  # pending uploads older than a day, removed
    aborted: int = 0  # stale unfinished uploads the storage held
    thumbnails_offered: int = 0
    skipped: bool = False  # another worker holds the lock


async def _remove_objects(storage: Storage, row: asyncpg.Record) -> None:
    key = row["storage_key"]
    if row["upload_id"]:
        try:
            await storage.abort_multipart(key, MultipartUpload(row["upload_id"], row["size"]))
        except StorageError:
            pass  # gone already
    await storage.delete(key)
    await storage.delete(thumbnail_key(key))


async def _purge(pool: asyncpg.Pool, storage: Storage, rows: list[asyncpg.Record]) -> int:
    done = []
    for row in rows:
        try:
            await _remove_objects(storage, row)
        except StorageError as exc:
            log.warning("attachment %s: objects not removed yet: %s", row["id"], exc)
            continue
        done.append(row["id"])
    if not done:
        return 0
    async with system_transaction(pool) as conn:
        return await queries.purge(conn, done)


async def sweep(app: web.Application, *,
                pending_lifetime: timedelta = PENDING_LIFETIME) -> SweepReport:
    """One sweep (every worker may call it; one at a time does the work)."""
    pool, storage = app[POOL], app[STORAGE]
    report = SweepReport()
    async with pool.acquire() as lock_conn:
        if not await try_session_lock(lock_conn, LOCK):
            report.skipped = True
            return report
        try:
            async with system_transaction(pool) as conn:
                deleted = await queries.deleted(conn, BATCH)
                expired = await queries.expired_pending(conn, pending_lifetime, BATCH)
                missing = await queries.without_thumbnail(conn, None, BATCH)
            report.removed = await _purge(pool, storage, deleted)
            report.expired = await _purge(pool, storage, expired)
            report.aborted = await storage.abort_stale_uploads(pending_lifetime)
            thumbnails = app.get(THUMBNAILS)
            if thumbnails is not None:
                for row in missing:
                    kind = BY_EXTENSION.get(extension_of(row["file_name"]))
                    if kind is not None and thumbnails.offer(row["storage_key"], kind.name):
                        report.thumbnails_offered += 1
        finally:
            await unlock_session(lock_conn, LOCK)
    return report


def sweep_facts(report: SweepReport) -> dict[str, int] | None:
    if report.removed or report.expired or report.aborted:
        return {"removed": report.removed, "expired": report.expired,
                "aborted": report.aborted}
    return None
