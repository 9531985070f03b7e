"""file:// storage: each object a file under one folder (DATA_DIR/files by default), written
atomically (temporary file, fsync, rename) in bounded memory. An upload in chunks appends to
`{key}.partial` by offset and becomes the object when its last declared byte arrives."""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import tempfile
import time
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Literal

from storage.backend import (
    DOWNLOAD_EXPIRY,
    MAX_EXPIRY,
    READ_CHUNK,
    DownloadTarget,
    MultipartUpload,
    ObjectInfo,
    Part,
    PartTarget,
    UploadTarget,
    check_expiry,
    check_upload,
    expires_at,
)
from storage.errors import (
    IncompleteUpload,
    NotStored,
    OffsetMismatch,
    SizeExceeded,
    StorageError,
    UploadBusy,
    UploadNotFound,
)
from storage.keys import KEY, check_key, check_prefix

WRITE_BUFFER = 1024 * 1024  # bytes gathered before one write to disk
# Uploads whose received chunks one worker handles at a time. Every stream that is read
# shares the event loop with REST: 50 uploads of 10 MiB handled at once put other requests'
# p99 at 86-111 ms, four at a time at 12-18 ms, with more throughput in all (bench/uploads.py,
# BENCHMARKS.md). A turn is held for one chunk, never while waiting for the network, so a
# slow site connection does not keep other uploads out.
STREAMS_AT_ONCE = 4
PARTIAL = ".partial"
UPLOAD_ID = "file"  # one unfinished upload per key: the partial file itself


class LocalStorage:
    """Objects under `root`; keys are validated, so no path leaves it."""

    kind: Literal["file"] = "file"

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()
        self._turns = asyncio.Semaphore(STREAMS_AT_ONCE)

    def path(self, key: str) -> Path:
        path = self.root.joinpath(*check_key(key).split("/"))
        if not path.resolve().is_relative_to(self.root):  # a symbolic link planted inside
            raise StorageError(f"{key} resolves outside the storage folder")
        return path

    def _partial(self, key: str) -> Path:
        path = self.path(key)
        return path.with_name(path.name + PARTIAL)

    # -- uploads ---------------------------------------------------------------------------

    async def upload_target(self, key: str, content_type: str, size: int,
                            expires: int = MAX_EXPIRY) -> UploadTarget:
        self.path(key)
        check_upload(content_type, size)
        return UploadTarget(method="PUT", url=None, headers={"Content-Type": content_type},
                            expires_at=expires_at(check_expiry(expires)))

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes], offset: int = 0,
                         size: int | None = None,
                         content_type: str = "application/octet-stream") -> int:
        if size is None:
            if offset:
                raise ValueError("an offset needs the declared size")
            return await self._put_whole(key, chunks)
        if size < 0 or offset < 0:
            raise ValueError("size and offset must not be negative")
        file = await asyncio.to_thread(self._open_partial, key, offset == 0)
        if file is None:
            received = await self.stat(key) or 0
            raise OffsetMismatch(offset, received)
        try:
            received = await asyncio.to_thread(_length, file)
            if offset > received:
                raise OffsetMismatch(offset, received)
            await asyncio.to_thread(_rewind, file, offset)
            position = await _append(file, chunks, offset, size, self._turns)
            if position == size:
                await asyncio.to_thread(_finish, file, self._partial(key), self.path(key))
            return position
        finally:
            await asyncio.to_thread(file.close)  # closing releases the lock

    async def _put_whole(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        path = self.path(key)
        file, temp = await asyncio.to_thread(_temporary, path)
        try:
            written = await _append(file, chunks, 0, None, self._turns)
            await asyncio.to_thread(_finish, file, temp, path)
            return written
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        finally:
            await asyncio.to_thread(file.close)

    def _open_partial(self, key: str, create: bool) -> BinaryIO | None:
        """The partial file, opened and locked against other writers (in any process);
        None when it does not exist and `create` is false."""
        partial = self._partial(key)
        for _ in range(3):
            if create:
                partial.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(partial, os.O_RDWR | (os.O_CREAT if create else 0), 0o600)
            except FileNotFoundError:
                return None
            file = os.fdopen(fd, "r+b")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                file.close()
                raise UploadBusy(f"{key} is being written by another request") from None
            try:
                if os.fstat(fd).st_ino == os.stat(partial).st_ino:
                    return file
            except FileNotFoundError:
                pass
            file.close()  # completed or aborted between open and lock: look again
        raise UploadBusy(f"{key} changed while opening it")

    async def start_multipart(self, key: str, content_type: str,
                              size: int) -> MultipartUpload:
        check_upload(content_type, size)
        file = await asyncio.to_thread(self._open_partial, key, True)
        assert file is not None
        try:
            await asyncio.to_thread(_rewind, file, 0)
        finally:
            await asyncio.to_thread(file.close)
        return MultipartUpload(UPLOAD_ID, size)

    async def part_targets(self, key: str, upload: MultipartUpload, numbers: Sequence[int],
                           expires: int = MAX_EXPIRY) -> list[PartTarget]:
        self.path(key)
        until = expires_at(check_expiry(expires))
        targets = []
        for number in numbers:
            offset, length = upload.part_range(number)
            content_range = f"bytes {offset}-{offset + length - 1}/{upload.size}"
            targets.append(PartTarget(number, None, {"Content-Range": content_range},
                                      offset, length, until))
        return targets

    async def _received(self, key: str, upload: MultipartUpload) -> int:
        if await self.stat(key) == upload.size:
            return upload.size
        try:
            return (await asyncio.to_thread(self._partial(key).stat)).st_size
        except FileNotFoundError:
            raise UploadNotFound(f"no unfinished upload of {key}") from None

    async def uploaded_parts(self, key: str, upload: MultipartUpload) -> list[Part]:
        received = await self._received(key, upload)
        parts = []
        for number in range(1, upload.part_count + 1):
            offset, length = upload.part_range(number)
            if offset + length <= received:
                parts.append(Part(number, length))
        return parts

    async def complete_multipart(self, key: str, upload: MultipartUpload) -> None:
        received = await self._received(key, upload)
        if received != upload.size:
            raise IncompleteUpload(f"{received} of {upload.size} bytes received", received)

    async def abort_multipart(self, key: str, upload: MultipartUpload) -> None:
        await asyncio.to_thread(self._partial(key).unlink, missing_ok=True)

    # -- reads -----------------------------------------------------------------------------

    async def stat(self, key: str) -> int | None:
        try:
            return (await asyncio.to_thread(self.path(key).stat)).st_size
        except FileNotFoundError:
            return None

    async def _open(self, key: str) -> BinaryIO:
        try:
            return await asyncio.to_thread(self.path(key).open, "rb")
        except FileNotFoundError:
            raise NotStored(key) from None

    async def read_head(self, key: str, n: int) -> bytes:
        file = await self._open(key)
        try:
            return await asyncio.to_thread(file.read, n)
        finally:
            file.close()

    async def open_read(self, key: str, chunk_size: int = READ_CHUNK) -> AsyncIterator[bytes]:
        return _read_chunks(await self._open(key), chunk_size)

    async def download_target(self, key: str, file_name: str, content_type: str, *,
                              inline: bool = False,
                              expires: int = DOWNLOAD_EXPIRY) -> DownloadTarget | None:
        self.path(key)
        return None  # the API streams the file itself (open_read)

    async def sha256(self, key: str) -> str:
        try:
            return await asyncio.to_thread(_sha256, self.path(key))
        except FileNotFoundError:
            raise NotStored(key) from None

    # -- removal and sweeps ----------------------------------------------------------------

    async def delete(self, key: str) -> None:
        path = self.path(key)
        await asyncio.to_thread(_remove, (path, self._partial(key)), self.root)

    async def list_objects(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        start = self.root.joinpath(*check_prefix(prefix).split("/"))
        for info in await asyncio.to_thread(_walk, self.root, start):
            yield info

    async def abort_stale_uploads(self, older_than: timedelta) -> int:
        return await asyncio.to_thread(_sweep_partials, self.root,
                                       time.time() - older_than.total_seconds())


async def _append(file: BinaryIO, chunks: AsyncIterable[bytes], offset: int,
                  size: int | None, turns: asyncio.Semaphore) -> int:
    """Write `chunks` at the file's position through a bounded buffer, each chunk in a turn
    of `turns`; returns the position reached. Past `size`: SizeExceeded, with the file cut
    back to `offset`. When the body breaks off, what arrived is kept (the client resumes from
    there)."""
    buffer = bytearray()
    position = offset
    iterator = aiter(chunks)
    while True:
        try:
            chunk = await anext(iterator)  # waiting for the network holds no turn
        except StopAsyncIteration:
            break
        except Exception:
            await asyncio.to_thread(file.write, bytes(buffer))
            raise
        async with turns:
            position += len(chunk)
            if size is not None and position > size:
                await asyncio.to_thread(_rewind, file, offset)
                raise SizeExceeded(size)
            buffer += chunk
            if len(buffer) >= WRITE_BUFFER:
                await asyncio.to_thread(file.write, bytes(buffer))
                buffer.clear()
    await asyncio.to_thread(file.write, bytes(buffer))
    return position


def _temporary(path: Path) -> tuple[BinaryIO, Path]:
    """A new file beside `path` (the sweep removes it if the writer dies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    return os.fdopen(fd, "r+b"), Path(temp)


def _length(file: BinaryIO) -> int:
    return os.fstat(file.fileno()).st_size


def _rewind(file: BinaryIO, offset: int) -> None:
    file.flush()
    file.truncate(offset)
    file.seek(offset)


def _finish(file: BinaryIO, source: Path, target: Path) -> None:
    """Durably move the written file into place (same folder: an atomic rename)."""
    file.flush()
    os.fsync(file.fileno())
    os.replace(source, target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


async def _read_chunks(file: BinaryIO, chunk_size: int) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(file.read, chunk_size):
            yield chunk
    finally:
        file.close()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(WRITE_BUFFER):
            digest.update(block)
    return digest.hexdigest()


def _remove(paths: Sequence[Path], root: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
    folder = paths[0].parent
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()  # only when empty
        except OSError:
            return
        folder = folder.parent


def _walk(root: Path, start: Path) -> list[ObjectInfo]:
    found = []
    for folder, _dirs, files in os.walk(start):
        for name in files:
            path = Path(folder, name)
            key = path.relative_to(root).as_posix()
            if KEY.fullmatch(key):
                stat = path.stat()
                found.append(ObjectInfo(key, stat.st_size,
                                        datetime.fromtimestamp(stat.st_mtime, UTC)))
    return sorted(found, key=lambda info: info.key)


def _sweep_partials(root: Path, cutoff: float) -> int:
    """Remove partial and temporary files last written before `cutoff` (and not locked)."""
    removed = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            if not (name.endswith(PARTIAL) or name.endswith(".tmp")):
                continue
            try:
                if path.stat().st_mtime >= cutoff:
                    continue
                with path.open("rb") as file:
                    fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    path.unlink()
                removed += 1
            except (FileNotFoundError, BlockingIOError):
                continue
    return removed
