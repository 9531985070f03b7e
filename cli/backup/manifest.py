"""Backup files and their manifests: names, the manifest document, and retention.

A backup of database `pm` taken at 2026-01-02 03:04:05 UTC is
`formula-pm-pm-20260102T030405Z.dump` (`.dump.sealed` when encrypted), with
`formula-pm-pm-20260102T030405Z.manifest.json` beside it. Retention only ever touches files
of exactly that shape for exactly that database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

PREFIX = "formula-pm-"
STAMP = "%Y%m%dT%H%M%SZ"
SUFFIXES = (".dump", ".dump.sealed")
MANIFEST_SUFFIX = ".manifest.json"
FILES_SUFFIXES = (".files.tar", ".files.tar.sealed")  # cli/backup/files.py
FORMAT = "formula-pm backup 1"


class ManifestError(Exception):
    """A manifest is missing, unreadable, or does not match its backup."""


def safe_name(database: str) -> str:
    """The database name as it appears in file names (anything odd becomes `_`)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", database) or "_"


def backup_stem(database: str, at: dt.datetime) -> str:
    return f"{PREFIX}{safe_name(database)}-{at.astimezone(dt.UTC).strftime(STAMP)}"


def manifest_path(backup: Path) -> Path:
    name = backup.name
    for suffix in SUFFIXES[::-1]:  # longest first
        if name.endswith(suffix):
            return backup.with_name(name[: -len(suffix)] + MANIFEST_SUFFIX)
    raise ManifestError(f"{backup} is not a Formula PM backup file "
                        f"(names end in {' or '.join(SUFFIXES)})")


@dataclass
class Manifest:
    format: str
    database: str
    file: str
    encrypted: bool
    schema_revision: str | None
    server_version: str
    pg_dump_version: str
    started_at: str
    finished_at: str
    size_bytes: int
    sha256: str
    highest_audit_id: int
    tables: dict[str, int]
    # Objects owned by a role other than the database owner (the service's definer
    # functions): restored with --no-owner, they are handed back to that role.
    owners: list[dict[str, str]] = field(default_factory=list)
    # ALTER DATABASE ... SET values (not part of a dump of the database's contents).
    database_settings: list[str] = field(default_factory=list)
    # The file store's archive beside the dump (file:// storage): file, size_bytes, sha256,
    # objects, object_bytes. None: no files were backed up (S3 storage).
    files: dict[str, Any] | None = None

    @property
    def total_rows(self) -> int:
        return sum(self.tables.values())

    def write(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".partial")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        tmp.replace(path)

    @classmethod
    def read(cls, backup: Path) -> Manifest:
        path = manifest_path(backup)
        try:
            data: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            raise ManifestError(f"no manifest beside the backup: {path} is missing") from None
        except (OSError, ValueError) as exc:
            raise ManifestError(f"the manifest {path} cannot be read: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ManifestError(f"{path} is not a Formula PM backup manifest")
        try:
            return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except TypeError as exc:
            raise ManifestError(f"the manifest {path} is incomplete: {exc}") from None


def file_sha256(path: Path, chunk: int = 1024 * 1024) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as inp:
        while block := inp.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class HashingWriter:
    """Writes to a file while counting and hashing what was written."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.out.write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)


def backups_of(directory: Path, database: str) -> list[Path]:
    """This database's backup files in `directory`, oldest first (by the time in the name)."""
    pattern = re.compile(re.escape(PREFIX + safe_name(database)) +
                         r"-(\d{8}T\d{6}Z)(\.dump|\.dump\.sealed)$")
    found = []
    for path in directory.iterdir() if directory.is_dir() else ():
        match = pattern.fullmatch(path.name)
        if match and path.is_file():
            found.append((match.group(1), path))
    return [path for _, path in sorted(found)]


def prune(directory: Path, database: str, keep: int) -> list[Path]:
    """Remove all but the newest `keep` backups of `database` (with their manifests)."""
    if keep < 1:
        raise ValueError("--keep must be at least 1")
    removed = []
    for path in backups_of(directory, database)[:-keep]:
        stem = manifest_path(path).name[: -len(MANIFEST_SUFFIX)]
        archives = [path.with_name(stem + suffix) for suffix in FILES_SUFFIXES]
        for victim in (path, manifest_path(path), *archives):
            if victim.exists():
                victim.unlink()
                removed.append(victim)
    return removed
