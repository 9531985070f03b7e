"""The operator's commands of `formula-pm`: backup, restore, audit, cache, db."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from server.config import ConfigError, Settings

SubParsers = Any  # argparse's private _SubParsersAction


def _resolve(settings: Settings) -> Settings:
    from server.cli import resolve_database

    return resolve_database(settings)


def _key(path: str | None) -> bytes | None:
    from server.backup.sealed import SealError, read_key_file

    if path is None:
        return None
    try:
        return read_key_file(Path(path))
    except SealError as exc:
        raise ConfigError(str(exc)) from None


# --- backup and restore -------------------------------------------------------------------

def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from server.backup.dump import BackupError, BackupRequest, take_backup, terminal_progress
    from server.backup.manifest import Manifest
    from server.system_events import BACKUP_COMPLETED, BACKUP_FAILED, record_with_url

    if args.keep is not None and args.keep < 1:
        raise ConfigError("--keep must be at least 1")
    key = _key(args.encrypt_key_file)
    settings = _resolve(settings)
    url = settings.database_url or ""
    request = BackupRequest(url=url, directory=Path(args.to), key=key, keep=args.keep,
                            embedded=settings.embedded)
    started = time.monotonic()
    try:
        path = asyncio.run(take_backup(request, terminal_progress()))
    except (BackupError, ConfigError, OSError) as exc:
        asyncio.run(record_with_url(url, BACKUP_FAILED, {"reason": str(exc),
                                                         "directory": str(args.to)}))
        if isinstance(exc, ConfigError):
            raise
        print(f"formula-pm: backup failed: {exc}", file=sys.stderr)
        return 1
    manifest = Manifest.read(path)
    seconds = round(time.monotonic() - started, 3)
    asyncio.run(record_with_url(url, BACKUP_COMPLETED, {
        "file": path.name, "size_bytes": manifest.size_bytes, "sha256": manifest.sha256,
        "encrypted": manifest.encrypted, "rows": manifest.total_rows, "seconds": seconds,
        "schema_revision": manifest.schema_revision,
        "highest_audit_id": manifest.highest_audit_id}))
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    print(f"{manifest.total_rows} rows in {len(manifest.tables)} tables, "
          f"{manifest.size_bytes / 1e6:,.1f} MB in {seconds:.1f} s; manifest "
          f"{path.name.split('.dump')[0]}.manifest.json")
    print(path)
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    from server.backup.manifest import ManifestError
    from server.backup.restore import RestoreError, RestoreRequest, restore_backup

    key = _key(args.key_file)
    if args.to:
        from db.dsn import BadDatabaseUrl, check_database_url

        try:
            check_database_url(args.to)
        except BadDatabaseUrl as exc:
            raise ConfigError(str(exc).replace("DATABASE_URL", "--to")) from None
        target = args.to
        embedded = False
    else:
        settings = _resolve(settings)
        target, embedded = settings.database_url or "", settings.embedded
    request = RestoreRequest(file=Path(args.file), target_url=target, key=key,
                             force=args.force, verify=args.verify, embedded=embedded)
    try:
        comparison = asyncio.run(restore_backup(request))
    except (RestoreError, ManifestError) as exc:
        print(f"formula-pm: restore failed, nothing was changed: {exc}", file=sys.stderr)
        return 1
    for line in comparison.lines():
        print(line)
    if args.verify:
        print(f"verified: {args.file} restores completely (the scratch database is dropped)")
    else:
        print(f"restored into {comparison.database}; run `formula-pm migrate` if the backup "
              "is of an older release")
    return 0


def add_backup_commands(sub: SubParsers) -> None:
    backup = sub.add_parser(
        "backup", help="write a consistent backup of the database (and its manifest)",
        description="Dump the service database (pg_dump, custom format, from one snapshot) "
        "into DIR with a manifest beside it (schema revision, rows per table, highest audit "
        "id, size, sha256, times, server version). Prints the backup's path as its last "
        "line. Needs pg_dump of the server's major version.")
    backup.add_argument("--to", default="backups", metavar="DIR",
                        help="directory of the backups (default ./backups)")
    backup.add_argument("--keep", type=int, metavar="N",
                        help="then remove all but the newest N backups of this database")
    backup.add_argument("--encrypt-key-file", metavar="F",
                        help="encrypt with the key in F (AES-256-GCM, streamed; at least "
                        "32 bytes: `openssl rand -base64 48 > F`)")
    backup.set_defaults(func=cmd_backup, signs_tokens=False)

    restore = sub.add_parser(
        "restore", help="restore a backup (or --verify it: a restore drill)",
        description="Check the backup against its manifest (sha256), decrypt it, restore it "
        "into a scratch database, compare its rows and highest audit id with the manifest, "
        "then put it in place of the target. Any failure leaves the target as it was. "
        "Stop the workers first when replacing the live database.")
    restore.add_argument("file", metavar="FILE", help="the .dump or .dump.sealed file")
    restore.add_argument("--to", metavar="URL",
                         help="target database (default DATABASE_URL); created if missing")
    restore.add_argument("--force", action="store_true",
                         help="replace a target that is not empty")
    restore.add_argument("--verify", action="store_true",
                         help="restore into a temporary database, compare, drop it")
    restore.add_argument("--key-file", metavar="F", help="the key of an encrypted backup")
    restore.set_defaults(func=cmd_restore, signs_tokens=False)


def add_ops_commands(sub: SubParsers) -> None:
    add_backup_commands(sub)
