"""Storage fixtures: a folder store per test, and the run's private S3 server (SeaweedFS,
the `s3_server` fixture of tests/conftest.py) with a bucket in which each test has its own
prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.backend import Storage
from storage.local import LocalStorage
from storage.s3 import S3Storage
from storage.settings import open_storage
from tests.storage.s3_server import S3Server, s3_settings


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
