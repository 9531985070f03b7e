"""What both backends promise alike: round trips, sizes, heads, hashes, listing, thumbnails
beside their object, deletion, and keys that are ours or nothing."""

from __future__ import annotations

import hashlib
import os
import uuid

import pytest

from storage.backend import Storage
from storage.errors import BadKey, NotStored
from storage.keys import object_key, project_prefix, thumbnail_key
from tests.storage.browser import chunks

ORG, PROJECT = uuid.uuid4(), uuid.uuid4()


async def test_round_trip(storage: Storage) -> None:
    data = os.urandom(300_000)
    key = object_key(ORG, PROJECT)
    assert await storage.stat(key) is None
    assert await storage.put_stream(key, chunks(data), size=len(data),
                                    content_type="image/jpeg") == len(data)
    assert await storage.stat(key) == len(data)
    assert await storage.read_head(key, 16) == data[:16]
    assert b"".join([c async for c in await storage.open_read(key, 4096)]) == data
    assert await storage.sha256(key) == hashlib.sha256(data).hexdigest()


async def test_an_empty_object(storage: Storage) -> None:
    key = object_key(ORG, PROJECT)
    assert await storage.put_stream(key, chunks(b""), size=0) == 0
    assert await storage.stat(key) == 0
    assert await storage.read_head(key, 16) == b""


async def test_missing_objects(storage: Storage) -> None:
    key = object_key(ORG, PROJECT)
    with pytest.raises(NotStored):
        await storage.open_read(key)
    with pytest.raises(NotStored):
        await storage.read_head(key, 4)
    with pytest.raises(NotStored):
        await storage.sha256(key)
    await storage.delete(key)  # nothing to delete is no error


async def test_thumbnails_live_beside_their_object_and_listing_sees_both(
        storage: Storage) -> None:
    org, project = uuid.uuid4(), uuid.uuid4()
    key = object_key(org, project)
    thumb = thumbnail_key(key)
    assert thumb == f"{key}.thumb"
    await storage.put_stream(key, chunks(b"photo"), size=5)
    await storage.put_stream(thumb, chunks(b"tn"), content_type="image/webp")
    other = object_key(org, uuid.uuid4())
    await storage.put_stream(other, chunks(b"elsewhere"), size=9)
    listed = [info async for info in storage.list_objects(project_prefix(org, project))]
    assert [(info.key, info.size) for info in listed] == [(key, 5), (thumb, 2)]
    await storage.delete(key)
    await storage.delete(thumb)
    assert [info.key async for info in storage.list_objects(f"org/{org}/")] == [other]


@pytest.mark.parametrize("key", [
    "../../etc/passwd",
    f"org/{ORG}/project/{PROJECT}/../../../x",
    f"/org/{ORG}/project/{PROJECT}/{uuid.uuid4()}",
    f"org/{ORG}/project/{PROJECT}/report.pdf",
    f"org/{ORG}/project/{PROJECT}/{str(uuid.uuid4()).upper()}",
    f"org/{ORG}/project/{PROJECT}/{uuid.uuid4()}.thumb.thumb",
    f"org/{ORG}/project/{PROJECT}/{uuid.uuid4()}\n",
    "",
])
async def test_only_our_keys_are_touched(storage: Storage, key: str) -> None:
    with pytest.raises(BadKey):
        await storage.stat(key)
    with pytest.raises(BadKey):
        await storage.put_stream(key, chunks(b"x"))
    with pytest.raises(BadKey):
        await storage.upload_target(key, "image/png", 1)
    with pytest.raises(BadKey):
        await storage.delete(key)


async def test_listing_takes_only_key_prefixes(storage: Storage) -> None:
    with pytest.raises(BadKey):
        [info async for info in storage.list_objects("../")]
