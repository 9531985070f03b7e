"""Files over 32 MiB go to S3 in parts through presigned part URLs, each bound to its exact
length; after a dropped connection the client asks which parts arrived and sends the rest."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from storage.backend import PART_SIZE
from storage.errors import IncompleteUpload, UploadNotFound
from storage.keys import object_key
from storage.s3 import S3Storage
from tests.storage.browser import put

SIZE = 2 * PART_SIZE + 12345  # three parts, the last one short


def new_key() -> str:
    return object_key(uuid.uuid4(), uuid.uuid4())


async def _dropped_after(body: bytes, sent: int) -> AsyncIterator[bytes]:
    """A body whose connection breaks after `sent` bytes (the site's network drops)."""
    yield body[:sent]
    raise ConnectionResetError("site connection dropped")


async def test_parts_resume_after_a_dropped_connection(s3_storage: S3Storage) -> None:
    data = os.urandom(SIZE)
    key = new_key()
    upload = await s3_storage.start_multipart(key, "application/pdf", SIZE)
    assert (upload.part_count, upload.part_size) == (3, PART_SIZE)
    first, second, _ = await s3_storage.part_targets(key, upload, [1, 2, 3], expires=300)
    assert (first.offset, first.size, second.offset) == (0, PART_SIZE, PART_SIZE)
    status, _ = await put(first.url or "", data[:PART_SIZE])
    assert status == 200
    part = data[second.offset:second.offset + second.size]
    with pytest.raises(Exception):  # noqa: B017 - whatever aiohttp makes of the broken body
        await put(second.url or "", _dropped_after(part, 1_000_000),
                  {"Content-Length": str(second.size)})

    # Back online: which parts does the storage hold? Only the first.
    assert [p.number for p in await s3_storage.uploaded_parts(key, upload)] == [1]
    with pytest.raises(IncompleteUpload):
        await s3_storage.complete_multipart(key, upload)
    assert await s3_storage.stat(key) is None

    for target in await s3_storage.part_targets(key, upload, [2, 3]):
        status, _ = await put(target.url or "", data[target.offset:target.offset + target.size])
        assert status == 200
    assert [p.number for p in await s3_storage.uploaded_parts(key, upload)] == [1, 2, 3]
    await s3_storage.complete_multipart(key, upload)
    await s3_storage.complete_multipart(key, upload)  # a retried request changes nothing
    assert await s3_storage.stat(key) == SIZE
    assert await s3_storage.sha256(key) == hashlib.sha256(data).hexdigest()
    head = await s3_storage.client.head_object(Bucket=s3_storage.bucket, Key=s3_storage.name(key))
    assert head["ContentType"] == "application/pdf"


@pytest.mark.parametrize("delta", [1, -1], ids=["longer", "shorter"])
async def test_a_part_of_another_length_is_refused(s3_storage: S3Storage, delta: int) -> None:
    key = new_key()
    upload = await s3_storage.start_multipart(key, "image/png", 100)
    [target] = await s3_storage.part_targets(key, upload, [1])
    status, text = await put(target.url or "", b"x" * (100 + delta))
    assert status == 403 and "SignatureDoesNotMatch" in text
    assert await s3_storage.uploaded_parts(key, upload) == []


async def test_a_part_url_for_another_upload_is_refused(s3_storage: S3Storage) -> None:
    key = new_key()
    upload = await s3_storage.start_multipart(key, "image/png", 100)
    [target] = await s3_storage.part_targets(key, upload, [1])
    assert target.url is not None
    forged = target.url.replace("partNumber=1", "partNumber=2")
    status, _ = await put(forged, b"x" * 100)
    assert status == 403
    assert await s3_storage.uploaded_parts(key, upload) == []


async def test_aborted_and_stale_uploads_are_gone(s3_storage: S3Storage) -> None:
    key = new_key()
    upload = await s3_storage.start_multipart(key, "image/png", SIZE)
    await s3_storage.abort_multipart(key, upload)
    with pytest.raises(UploadNotFound):
        await s3_storage.uploaded_parts(key, upload)

    other = new_key()
    stale = await s3_storage.start_multipart(other, "image/png", SIZE)
    assert await s3_storage.abort_stale_uploads(timedelta(hours=1)) == 0
    assert await s3_storage.abort_stale_uploads(timedelta(0)) == 1
    with pytest.raises(UploadNotFound):
        await s3_storage.uploaded_parts(other, stale)


async def test_server_side_writes_of_any_length_use_bounded_parts(
        s3_storage: S3Storage) -> None:
    data = os.urandom(PART_SIZE + 5)
    key = new_key()

    async def body() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 1 << 20):
            yield data[start:start + (1 << 20)]

    assert await s3_storage.put_stream(key, body(), size=len(data)) == len(data)
    assert await s3_storage.sha256(key) == hashlib.sha256(data).hexdigest()
