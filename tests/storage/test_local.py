"""file:// storage: atomic writes, chunked uploads by offset that resume after a dropped
connection, one writer at a time, no path outside its folder, sweeps of what was left."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from storage.backend import PART_SIZE
from storage.errors import (
    IncompleteUpload,
    OffsetMismatch,
    SizeExceeded,
    StorageError,
    UploadBusy,
    UploadNotFound,
)
from storage.keys import object_key
from storage.local import LocalStorage
from tests.storage.browser import chunks

ORG, PROJECT = uuid.uuid4(), uuid.uuid4()


def new_key() -> str:
    return object_key(ORG, PROJECT)


async def test_a_whole_write_is_invisible_until_complete(local_storage: LocalStorage) -> None:
    key = new_key()
    seen = []

    async def body() -> AsyncIterator[bytes]:
        yield b"first half "
        seen.append(await local_storage.stat(key))
        yield b"second half"

    assert await local_storage.put_stream(key, body()) == 22
    assert seen == [None]
    assert local_storage.path(key).read_bytes() == b"first half second half"
    assert [p.name for p in local_storage.path(key).parent.iterdir()] == [
        local_storage.path(key).name]


async def test_a_failed_whole_write_leaves_nothing(local_storage: LocalStorage) -> None:
    key = new_key()

    async def body() -> AsyncIterator[bytes]:
        yield b"some"
        raise ConnectionResetError

    with pytest.raises(ConnectionResetError):
        await local_storage.put_stream(key, body())
    assert await local_storage.stat(key) is None
    assert list(local_storage.path(key).parent.iterdir()) == []


async def test_chunks_by_offset(local_storage: LocalStorage) -> None:
    key = new_key()
    assert await local_storage.put_stream(key, chunks(b"01234"), 0, size=10) == 5
    assert await local_storage.stat(key) is None
    with pytest.raises(OffsetMismatch) as gap:
        await local_storage.put_stream(key, chunks(b"789"), 7, size=10)
    assert gap.value.received == 5
    with pytest.raises(SizeExceeded):
        await local_storage.put_stream(key, chunks(b"5678901"), 5, size=10)
    assert await local_storage.put_stream(key, chunks(b"56789"), 5, size=10) == 10
    assert local_storage.path(key).read_bytes() == b"0123456789"
    with pytest.raises(OffsetMismatch) as done:  # complete: nothing more to send
        await local_storage.put_stream(key, chunks(b"9"), 9, size=10)
    assert done.value.received == 10


async def test_a_dropped_chunk_keeps_what_arrived_and_may_be_sent_again(
        local_storage: LocalStorage) -> None:
    key = new_key()

    async def dropped() -> AsyncIterator[bytes]:
        yield b"abc"
        yield b"def"
        raise ConnectionResetError("site connection dropped")

    with pytest.raises(ConnectionResetError):
        await local_storage.put_stream(key, dropped(), 0, size=9)
    with pytest.raises(OffsetMismatch) as resume:
        await local_storage.put_stream(key, chunks(b"x"), 8, size=9)
    assert resume.value.received == 6
    # Resending from an earlier offset (the part's start) replaces what followed it.
    assert await local_storage.put_stream(key, chunks(b"cdefghi"), 2, size=9) == 9
    assert local_storage.path(key).read_bytes() == b"abcdefghi"


async def test_one_writer_at_a_time(local_storage: LocalStorage) -> None:
    key = new_key()
    release = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield b"slow"
        await release.wait()

    first = asyncio.create_task(local_storage.put_stream(key, slow(), 0, size=8))
    await asyncio.sleep(0.2)
    with pytest.raises(UploadBusy):
        await local_storage.put_stream(key, chunks(b"fast"), 0, size=8)
    release.set()
    assert await first == 4


async def test_parts_by_offset_with_the_multipart_calls(local_storage: LocalStorage) -> None:
    size = 2 * PART_SIZE + 10
    data = os.urandom(size)
    key = new_key()
    upload = await local_storage.start_multipart(key, "application/pdf", size)
    targets = await local_storage.part_targets(key, upload, [1, 2, 3])
    assert [t.url for t in targets] == [None] * 3
    assert targets[1].headers == {
        "Content-Range": f"bytes {PART_SIZE}-{2 * PART_SIZE - 1}/{size}"}
    first, second, third = targets
    await local_storage.put_stream(key, chunks(data[:PART_SIZE], 1 << 20), first.offset, size)
    assert [p.number for p in await local_storage.uploaded_parts(key, upload)] == [1]
    with pytest.raises(IncompleteUpload):
        await local_storage.complete_multipart(key, upload)
    for target in (second, third):
        part = data[target.offset:target.offset + target.size]
        await local_storage.put_stream(key, chunks(part, 1 << 20), target.offset, size)
    assert [p.number for p in await local_storage.uploaded_parts(key, upload)] == [1, 2, 3]
    await local_storage.complete_multipart(key, upload)
    assert local_storage.path(key).read_bytes() == data
    await local_storage.abort_multipart(key, upload)  # after completion: nothing to abort
    assert await local_storage.stat(key) == size


async def test_abort_and_delete_remove_unfinished_uploads(local_storage: LocalStorage) -> None:
    key = new_key()
    upload = await local_storage.start_multipart(key, "image/png", 100)
    await local_storage.put_stream(key, chunks(b"x" * 10), 0, size=100)
    await local_storage.abort_multipart(key, upload)
    with pytest.raises(UploadNotFound):
        await local_storage.uploaded_parts(key, upload)
    await local_storage.put_stream(key, chunks(b"x" * 10), 0, size=100)
    await local_storage.delete(key)
    assert not (local_storage.root / "org").exists()  # empty folders pruned


async def test_the_sweep_removes_only_old_unfinished_uploads(
        local_storage: LocalStorage) -> None:
    old, fresh, done = new_key(), new_key(), new_key()
    for key in (old, fresh):
        await local_storage.put_stream(key, chunks(b"part"), 0, size=100)
    await local_storage.put_stream(done, chunks(b"whole"))
    partial = local_storage.path(old).with_name(local_storage.path(old).name + ".partial")
    an_hour_ago = time.time() - 3600
    os.utime(partial, (an_hour_ago, an_hour_ago))
    os.utime(local_storage.path(done), (an_hour_ago, an_hour_ago))
    assert await local_storage.abort_stale_uploads(timedelta(minutes=30)) == 1
    assert not partial.exists()
    assert await local_storage.stat(done) == 5
    assert [info.key async for info in local_storage.list_objects()] == [done]


async def test_no_path_leaves_the_folder(local_storage: LocalStorage, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (local_storage.root / "org").symlink_to(outside)
    with pytest.raises(StorageError, match="outside"):
        await local_storage.put_stream(new_key(), chunks(b"x"))
    assert list(outside.iterdir()) == []


async def test_downloads_are_streamed_by_the_api(local_storage: LocalStorage) -> None:
    assert await local_storage.download_target(new_key(), "a.pdf", "application/pdf") is None
    target = await local_storage.upload_target(new_key(), "image/png", 10)
    assert (target.method, target.url) == ("PUT", None)
    assert target.headers == {"Content-Type": "image/png"}


async def test_uploads_waiting_for_the_network_keep_no_one_else_out(
    local_storage: LocalStorage,
) -> None:
    # Each received chunk is written in one of STREAMS_AT_ONCE turns; more stalled uploads
    # than turns (slow site connections) must not hold them while they wait for bytes.
    from storage.local import STREAMS_AT_ONCE

    resume = asyncio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        yield b"first bytes "
        await resume.wait()
        yield b"and the rest"

    size = len(b"first bytes and the rest")
    slow = [asyncio.create_task(local_storage.put_stream(
        object_key(ORG, PROJECT), stalled(), size=size))
        for _ in range(STREAMS_AT_ONCE + 2)]
    await asyncio.sleep(0.05)  # every slow upload has had its first chunk written
    fast = [local_storage.put_stream(object_key(ORG, PROJECT),
                                     chunks(b"x" * 300_000), size=300_000)
            for _ in range(STREAMS_AT_ONCE * 2)]
    async with asyncio.timeout(10):
        assert await asyncio.gather(*fast) == [300_000] * (STREAMS_AT_ONCE * 2)
    assert not any(task.done() for task in slow)
    resume.set()
    assert await asyncio.gather(*slow) == [size] * len(slow)
