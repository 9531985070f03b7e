"""Fixtures shared by the server tests that store files."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.settings import StorageSettings
from tests.storage.s3_server import s3_settings


@pytest.fixture(params=["file", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> StorageSettings:
    """Each storage backend in turn: a folder, then the run's private S3 server."""
    if request.param == "file":
        return StorageSettings(kind="file", root=tmp_path / "files")
    return s3_settings(request.getfixturevalue("s3_server"))
