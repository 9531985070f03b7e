"""`formula-pm restore`: check, decrypt, restore into a scratch database, compare with the
manifest, then put it in the target's place. Any failure before the swap drops the scratch
database and leaves the target exactly as it was.

The restore runs `pg_restore --no-owner` (the restoring login need not be a superuser nor
the original owner: it owns what it restores), then hands the service's definer functions
back to their role and puts back the database's settings, both recorded in the manifest.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import subprocess
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import asyncpg

from cli.backup.binaries import Binaries, find_binaries
from cli.backup.facts import Facts, read_facts, server_major
from cli.backup.files import FilesArchive, restore_files
from cli.backup.libpq import database_of, last_lines, tool_target
from cli.backup.manifest import Manifest, file_sha256
from cli.backup.sealed import SealError, open_sealed, unseal
from cli.embedded import with_database
from db import admin_sql, catalog

MAINTENANCE_DATABASES = ("postgres", "template1")


class RestoreError(Exception):
    """The restore did not happen; the target is as it was. The message says why."""


@dataclass(frozen=True)
class RestoreRequest:
    file: Path
    target_url: str
    key: bytes | None = None
    force: bool = False
    verify: bool = False
    embedded: bool = False
    # The file:// storage folder the backup's file store is restored into (None: not).
    files_root: Path | None = None


@dataclass
class Comparison:
    """The manifest's promises against what the restored database holds."""

    database: str
    expected: Manifest
    found: Facts
    verified_only: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def mismatches(self) -> list[str]:
        out = []
        for table in sorted(set(self.expected.tables) | set(self.found.tables)):
            want, got = self.expected.tables.get(table), self.found.tables.get(table)
            if want != got:
                out.append(f"{table}: {want} rows in the backup, {got} restored")
        if self.expected.highest_audit_id != self.found.highest_audit_id:
            out.append(f"highest audit id: {self.expected.highest_audit_id} in the backup, "
                       f"{self.found.highest_audit_id} restored")
        if self.expected.schema_revision != self.found.schema_revision:
            out.append(f"schema revision: {self.expected.schema_revision} in the backup, "
                       f"{self.found.schema_revision} restored")
        return out

    def lines(self) -> list[str]:
        width = max([len(t) for t in self.expected.tables] + [5])
        out = [f"{'table':<{width}}  {'backup':>10}  {'restored':>10}"]
        for table in sorted(set(self.expected.tables) | set(self.found.tables)):
            want, got = self.expected.tables.get(table), self.found.tables.get(table)
            mark = "" if want == got else "  MISMATCH"
            out.append(f"{table:<{width}}  {want if want is not None else '-':>10}  "
                       f"{got if got is not None else '-':>10}{mark}")
        out.append(f"{'highest audit id':<{width}}  {self.expected.highest_audit_id:>10}  "
                   f"{self.found.highest_audit_id:>10}")
        out.append(f"schema revision {self.found.schema_revision}, "
                   f"{self.found.server_version}")
        return out + self.notes


def check_file(request: RestoreRequest, manifest: Manifest) -> None:
    """Size and sha256 against the manifest, and the key against the sealed header."""
    if not request.file.is_file():
        raise RestoreError(f"{request.file} does not exist")
    size = request.file.stat().st_size
    if size != manifest.size_bytes:
        raise RestoreError(f"{request.file} is {size} bytes, the manifest says "
                           f"{manifest.size_bytes}: the file is truncated or altered")
    if file_sha256(request.file) != manifest.sha256:
        raise RestoreError(f"{request.file} does not match the sha256 of its manifest: "
                           "the file is damaged or altered")
    if manifest.encrypted:
        if request.key is None:
            raise RestoreError("this backup is encrypted: give its key with --key-file")
        with request.file.open("rb") as inp:
            try:
                open_sealed(inp, request.key)
            except SealError as exc:
                raise RestoreError(str(exc)) from None


async def _connect_maintenance(url: str) -> asyncpg.Connection:
    """A connection to the target's server outside the target database."""
    last: Exception | None = None
    for name in MAINTENANCE_DATABASES:
        try:
            return await asyncpg.connect(with_database(url, name))
        except (asyncpg.InvalidCatalogNameError, asyncpg.InsufficientPrivilegeError) as exc:
            last = exc
    raise RestoreError(f"cannot connect to the server's maintenance database: {last}")


async def _table_count(url: str) -> int | None:
    """Tables in the target's public schema; None when the database does not exist."""
    try:
        conn = await asyncpg.connect(url)
    except asyncpg.InvalidCatalogNameError:
        return None
    try:
        return await catalog.relation_count(conn)
    finally:
        await conn.close()


def _run_restore(binaries: Binaries, request: RestoreRequest, url: str,
                 single_transaction: bool) -> None:
    """pg_restore into `url`, from the file or (encrypted) from the decrypted stream."""
    target, env = tool_target(url)
    command = [str(binaries.pg_restore), "--no-owner", "--exit-on-error", "--no-password",
               f"--dbname={target}"]
    if single_transaction:
        command.append("--single-transaction")
    with tempfile.TemporaryFile() as errors:
        if request.key is None:
            code = subprocess.run(  # noqa: S603 - the located pg_restore, no shell
                [*command, str(request.file)], stderr=errors, env=env,
                stdout=subprocess.DEVNULL, check=False).returncode
            failure: str | None = None
        else:
            code, failure = _restore_sealed(command, env, request.file, request.key, errors)
        if failure is not None:
            raise RestoreError(f"the backup cannot be decrypted: {failure}")
        if code != 0:
            errors.seek(0)
            raise RestoreError(f"pg_restore failed (exit {code}): {last_lines(errors.read())}")


def _restore_sealed(command: list[str], env: dict[str, str], file: Path, key: bytes,
                    errors: IO[bytes]) -> tuple[int, str | None]:
    process = subprocess.Popen(  # noqa: S603 - the located pg_restore, no shell
        command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors, env=env)
    assert process.stdin is not None
    failure = None
    try:
        with file.open("rb") as inp:
            for block in unseal(inp, key):
                process.stdin.write(block)
    except SealError as exc:
        failure = str(exc)
        process.kill()  # whatever it restored so far is thrown away with the scratch db
    except BrokenPipeError:
        pass  # pg_restore stopped early: its exit code and stderr say why
    finally:
        with contextlib.suppress(BrokenPipeError):
            process.stdin.close()
        code = process.wait()
    return code, failure


@contextlib.asynccontextmanager
async def _scratch(admin: asyncpg.Connection, name: str) -> AsyncIterator[None]:
    try:
        await admin_sql.create_database(admin, name)
    except asyncpg.InsufficientPrivilegeError:
        raise RestoreError(
            "the login may not create databases (CREATEDB): a restore goes into a scratch "
            "database first, so that a failure leaves the target as it was") from None
    try:
        yield
    finally:
        with contextlib.suppress(asyncpg.PostgresError):
            await admin_sql.drop_database(admin, name, if_exists=True)


async def _finish(url: str, manifest: Manifest, database: str) -> Facts:
    conn = await asyncpg.connect(url)
    try:
        try:
            await catalog.restore_extras(conn, database, manifest.owners,
                                         manifest.database_settings)
        except (ValueError, asyncpg.PostgresError) as exc:
            raise RestoreError(f"restoring owners and settings failed: {exc}") from None
        return await read_facts(conn)
    finally:
        await conn.close()


async def _swap(admin: asyncpg.Connection, scratch: str, target: str, exists: bool) -> None:
    """Put the scratch database in the target's place (the old one is dropped)."""
    old = f"{target[:40]}_replaced_{secrets.token_hex(4)}"
    if exists:
        for _ in range(20):
            await admin_sql.end_sessions(admin, target)
            try:
                await admin_sql.rename_database(admin, target, old)
                break
            except asyncpg.ObjectInUseError:
                await asyncio.sleep(0.25)
        else:
            raise RestoreError(f"the database {target} is still in use; stop the workers "
                               "and run the restore again")
    try:
        await admin_sql.rename_database(admin, scratch, target)
    except asyncpg.PostgresError:
        if exists:
            await admin_sql.rename_database(admin, old, target)
        raise
    if exists:
        await admin_sql.drop_database(admin, old)


def _files_archive(request: RestoreRequest,
                   manifest: Manifest) -> tuple[Path, FilesArchive] | None:
    """The backup's file store archive and what its manifest says of it, checked before
    anything is replaced; None when the backup holds no files."""
    if manifest.files is None:
        return None
    expected = FilesArchive(**manifest.files)
    archive = request.file.with_name(expected.file)
    if not archive.is_file() or file_sha256(archive) != expected.sha256:
        raise RestoreError(f"the file store archive {archive.name} is missing or does not "
                           "match its manifest")
    return archive, expected


async def restore_backup(request: RestoreRequest) -> Comparison:
    manifest = Manifest.read(request.file)
    check_file(request, manifest)
    target = database_of(request.target_url)
    tables = await _table_count(request.target_url)
    if tables and not request.force and not request.verify:
        raise RestoreError(f"the database {target} is not empty ({tables} tables); "
                           "--force replaces it")
    admin = await _connect_maintenance(request.target_url)
    try:
        binaries = find_binaries(await server_major(admin), embedded=request.embedded)
        scratch = f"fpm_restore_{secrets.token_hex(6)}"
        async with _scratch(admin, scratch):
            scratch_url = with_database(request.target_url, scratch)
            await asyncio.to_thread(_run_restore, binaries, request, scratch_url, False)
            found = await _finish(scratch_url, manifest, scratch)
            comparison = Comparison(target, manifest, found, verified_only=request.verify)
            if comparison.mismatches:
                raise RestoreError("the restored database does not match the manifest:\n  "
                                   + "\n  ".join(comparison.mismatches))
            archive = _files_archive(request, manifest)
            if not request.verify:
                await _swap(admin, scratch, target, tables is not None)
                if archive is not None and request.files_root is not None:
                    count = await asyncio.to_thread(restore_files, *archive,
                                                    request.files_root, request.key)
                    comparison.notes.append(f"{count} stored files restored into "
                                            f"{request.files_root}")
        return comparison
    finally:
        await admin.close()
