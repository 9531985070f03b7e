"""`formula-pm backup`: one consistent dump of the service database, and its manifest.

The counts of the manifest and the dump itself read the same exported snapshot, so what the
manifest promises is exactly what the dump holds. The dump streams from pg_dump through the
hash (and the cipher) to disk: memory stays at one chunk whatever the database's size.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

import asyncpg

from cli.backup.binaries import Binaries, find_binaries
from cli.backup.facts import Facts, read_facts, server_major
from cli.backup.files import archive_files, archive_path
from cli.backup.libpq import database_of, last_lines, tool_target
from cli.backup.manifest import (
    FORMAT,
    HashingWriter,
    Manifest,
    backup_stem,
    manifest_path,
    prune,
)
from cli.backup.sealed import SealWriter
from db import admin_sql

READ_CHUNK = 1024 * 1024
Progress = Callable[[int, float], None]


class BackupError(Exception):
    """The backup failed; the message says where and why (no partial file is left)."""


@dataclass(frozen=True)
class BackupRequest:
    url: str
    directory: Path
    key: bytes | None = None
    keep: int | None = None
    embedded: bool = False
    # The file:// storage folder, archived beside the dump (None: S3, or no files).
    files_root: Path | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def pg_dump_command(binaries: Binaries, url: str, snapshot: str | None,
                    row_security: bool) -> list[str]:
    command = [str(binaries.pg_dump), "--format=custom", "--no-password",
               f"--dbname={url}"]
    if snapshot:
        command.append(f"--snapshot={snapshot}")
    if row_security:
        command.append("--enable-row-security")
    return command


def _copy(source: IO[bytes], sink: HashingWriter | SealWriter, progress: Progress | None,
          counter: HashingWriter) -> None:
    started = time.monotonic()
    while block := source.read(READ_CHUNK):
        sink.write(block)
        if progress is not None:
            progress(counter.size, time.monotonic() - started)


def _run_dump(command: list[str], env: dict[str, str], out: BinaryIO, key: bytes | None,
              progress: Progress | None) -> HashingWriter:
    """pg_dump into `out` (through the cipher when a key is given); the hashing writer."""
    hashed = HashingWriter(out)
    sink: HashingWriter | SealWriter = (SealWriter(hashed, key, secrets.token_bytes(16))
                                        if key is not None else hashed)
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(  # noqa: S603 - the located pg_dump, no shell
            command, stdout=subprocess.PIPE, stderr=errors, env=env)
        assert process.stdout is not None
        try:
            _copy(process.stdout, sink, progress, hashed)
        finally:
            process.stdout.close()
            code = process.wait()
        if code != 0:
            errors.seek(0)
            raise BackupError(f"pg_dump failed (exit {code}): {last_lines(errors.read())}")
    if isinstance(sink, SealWriter):
        sink.close()
    return hashed


async def take_backup(request: BackupRequest, progress: Progress | None = None) -> Path:
    """Write the backup and its manifest into the directory; the backup file's path."""
    request.directory.mkdir(parents=True, exist_ok=True)
    started = _now()
    database = database_of(request.url)
    conn = await asyncpg.connect(request.url, server_settings={
        "application_name": "formula-pm-backup",
        # The exported snapshot lives as long as this transaction: it must not time out
        # while pg_dump works.
        "idle_in_transaction_session_timeout": "0"})
    try:
        binaries = find_binaries(await server_major(conn), embedded=request.embedded)
        # A superuser or BYPASSRLS login reads every row with row security off; the
        # service's own login reads them through its system role's policies, with it on.
        row_security = not await admin_sql.login_is_privileged(conn)
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await admin_sql.export_snapshot(conn)
            path = await _dump_to_file(request, binaries, snapshot, row_security, database,
                                       started, conn, progress)
    finally:
        await conn.close()
    if request.keep is not None:
        prune(request.directory, database, request.keep)
    return path


async def _dump_to_file(request: BackupRequest, binaries: Binaries, snapshot: str,
                        row_security: bool, database: str, started: dt.datetime,
                        conn: asyncpg.Connection, progress: Progress | None) -> Path:
    """pg_dump in a thread while this connection counts the rows of the same snapshot."""
    suffix = ".dump.sealed" if request.key is not None else ".dump"
    path = request.directory / (backup_stem(database, started) + suffix)
    if path.exists():
        raise BackupError(f"{path} exists already (two backups in the same second?)")
    partial = path.with_name(path.name + ".partial")
    url, env = tool_target(request.url)
    command = pg_dump_command(binaries, url, snapshot, row_security)
    try:
        with partial.open("wb") as out:
            dumping = asyncio.create_task(asyncio.to_thread(
                _run_dump, command, env, out, request.key, progress))
            try:
                facts = await read_facts(conn)
            finally:
                hashed = await dumping
            out.flush()
        partial.replace(path)
        manifest = _manifest(request, path, binaries, started, facts, hashed)
        if request.files_root is not None:  # after the dump: every row's bytes are there
            stem = request.directory / backup_stem(database, started)
            files = archive_path(stem, request.key is not None)
            manifest.files = (await asyncio.to_thread(
                archive_files, request.files_root, files, request.key)).as_json()
        manifest.write(manifest_path(path))
    except BaseException:
        partial.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        if request.files_root is not None:
            archive_path(request.directory / backup_stem(database, started),
                         request.key is not None).unlink(missing_ok=True)
        raise
    return path


def _manifest(request: BackupRequest, path: Path, binaries: Binaries, started: dt.datetime,
              facts: Facts, hashed: HashingWriter) -> Manifest:
    return Manifest(
        format=FORMAT, database=database_of(request.url), file=path.name,
        encrypted=request.key is not None, schema_revision=facts.schema_revision,
        server_version=facts.server_version, pg_dump_version=binaries.version,
        started_at=started.isoformat(), finished_at=_now().isoformat(),
        size_bytes=hashed.size, sha256=hashed.digest.hexdigest(),
        highest_audit_id=facts.highest_audit_id, tables=facts.tables,
        owners=facts.owners, database_settings=facts.database_settings)


def terminal_progress(stream: IO[str] | None = None) -> Progress | None:
    """A progress line on a terminal, nothing otherwise (cron, a container log)."""
    stream = stream or sys.stderr
    if not stream.isatty():
        return None
    shown = [0.0]

    def show(size: int, elapsed: float) -> None:
        if elapsed - shown[0] < 0.5:
            return
        shown[0] = elapsed
        rate = size / elapsed / 1e6 if elapsed else 0.0
        stream.write(f"\r  {size / 1e6:,.1f} MB written, {rate:,.1f} MB/s, "
                     f"{elapsed:,.0f} s   ")
        stream.flush()

    return show
