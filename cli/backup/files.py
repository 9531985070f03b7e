"""The file store in a backup (file:// storage): every complete object and thumbnail under
the storage folder, as one tar stream beside the dump (`…files.tar`, `.files.tar.sealed`
when encrypted), written after the dump so that every attachment the dump holds has its
bytes there; and the restore of that archive into a storage folder.

Unfinished uploads (`.partial`, temporary files) are left out: the restored rows of those
uploads are `pending`, and the sweep expires them. With S3 the bucket is not copied here:
enable bucket versioning (and replication or the provider's backups) instead."""

from __future__ import annotations

import os
import secrets
import shutil
import tarfile
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from cli.backup.manifest import FILES_SUFFIXES, HashingWriter, file_sha256
from cli.backup.sealed import SealWriter, unseal
from storage.keys import KEY

ARCHIVE_SUFFIXES = FILES_SUFFIXES


class FilesError(Exception):
    """The file store could not be archived or restored (the message says why)."""


@dataclass(frozen=True)
class FilesArchive:
    """What the manifest says of the archive."""

    file: str
    size_bytes: int
    sha256: str
    objects: int
    object_bytes: int

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def archive_path(stem_path: Path, sealed: bool) -> Path:
    """The archive beside a backup whose name without suffix is `stem_path`."""
    return stem_path.with_name(stem_path.name + ARCHIVE_SUFFIXES[int(sealed)])


def objects_under(root: Path) -> list[tuple[str, Path]]:
    """(key, path) of every complete object and thumbnail under `root`, sorted by key."""
    found = []
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            key = path.relative_to(root).as_posix()
            if KEY.fullmatch(key) and path.is_file() and not path.is_symlink():
                found.append((key, path))
    return sorted(found)


class _Sink:
    """A write-only file object for tarfile's stream mode."""

    def __init__(self, writer: HashingWriter | SealWriter) -> None:
        self.writer = writer

    def write(self, data: bytes) -> int:
        self.writer.write(data)
        return len(data)


def archive_files(root: Path, path: Path, key: bytes | None) -> FilesArchive:
    """Write the archive of `root` at `path` (through the cipher when a key is given)."""
    partial = path.with_name(path.name + ".partial")
    objects = total = 0
    try:
        with partial.open("wb") as out:
            hashed = HashingWriter(out)
            writer: HashingWriter | SealWriter = (
                SealWriter(hashed, key, secrets.token_bytes(16)) if key is not None else hashed)
            with tarfile.open(fileobj=_Sink(writer), mode="w|",  # type: ignore[call-overload]
                              format=tarfile.PAX_FORMAT) as tar:
                for name, source in objects_under(root) if root.is_dir() else []:
                    try:
                        info = tar.gettarinfo(str(source), arcname=name)
                        with source.open("rb") as data:
                            tar.addfile(info, data)
                    except FileNotFoundError:
                        continue  # removed by the sweep meanwhile
                    objects += 1
                    total += info.size
            if isinstance(writer, SealWriter):
                writer.close()
            out.flush()
            os.fsync(out.fileno())
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return FilesArchive(path.name, hashed.size, hashed.digest.hexdigest(), objects, total)


def _member_ok(member: tarfile.TarInfo) -> bool:
    return member.isfile() and KEY.fullmatch(member.name) is not None


def restore_files(archive: Path, expected: FilesArchive, root: Path, key: bytes | None) -> int:
    """Unpack the archive into `root` (its objects replace files of the same key); the
    number of objects restored. The archive is checked against the manifest first."""
    if not archive.is_file():
        raise FilesError(f"the file store archive {archive} is missing")
    if file_sha256(archive) != expected.sha256:
        raise FilesError(f"{archive.name} does not match its manifest (sha256)")
    with tempfile.TemporaryDirectory(prefix="fpm-files-") as scratch:
        plain = Path(scratch) / "files.tar"
        with archive.open("rb") as inp, plain.open("wb") as out:
            if key is not None:
                for chunk in unseal(inp, key):
                    out.write(chunk)
            else:
                shutil.copyfileobj(inp, out)
        return _unpack(plain, root)


def _unpack(plain: Path, root: Path) -> int:
    restored = 0
    root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(plain, mode="r:") as tar:
        for member in tar:
            if not _member_ok(member):
                raise FilesError(f"the archive holds {member.name!r}, not an object key")
            source = tar.extractfile(member)
            assert source is not None
            target = root.joinpath(*member.name.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(source, target)
            restored += 1
    return restored


def _write_atomically(source: IO[bytes], target: Path) -> None:
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(source, out)
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
