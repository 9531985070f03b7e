"""`formula-pm backup` with file:// storage archives the file store beside the dump (sealed
with the dump's key when encrypted); `formula-pm restore` puts it back, byte for byte, and
refuses an archive that does not match its manifest."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from cli.backup.manifest import Manifest, file_sha256
from storage.keys import object_key, thumbnail_key
from storage.local import LocalStorage
from tests.ops.conftest import NewDatabase, run_cli
from tests.storage.browser import chunks

KEY = "k" * 48


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_the_file_store_is_backed_up_and_restored(
        encrypted: bool, cli_env: str, tmp_path: Path, new_database: NewDatabase,
        capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "data" / "files"
    storage = LocalStorage(root)
    key = object_key(uuid.uuid4(), uuid.uuid4())
    body = b"%PDF-1.7 drawing " * 10_000
    await storage.put_stream(key, chunks(body))
    await storage.put_stream(thumbnail_key(key), chunks(b"RIFF....WEBP"))
    unfinished = object_key(uuid.uuid4(), uuid.uuid4())
    await storage.put_stream(unfinished, chunks(b"half"), size=10)  # a partial upload
    key_args: list[str] = []
    if encrypted:
        (tmp_path / "key").write_text(KEY)
        key_args = ["--encrypt-key-file", str(tmp_path / "key")]

    assert await run_cli(["backup", "--to", str(tmp_path / "b"), *key_args]) == 0
    path = Path(capsys.readouterr().out.strip().splitlines()[-1])
    manifest = Manifest.read(path)
    assert manifest.files is not None
    assert manifest.files["objects"] == 2
    assert manifest.files["object_bytes"] == len(body) + len(b"RIFF....WEBP")
    archive = path.with_name(manifest.files["file"])
    assert archive.name.endswith(".files.tar.sealed" if encrypted else ".files.tar")
    assert manifest.files["sha256"] == file_sha256(archive)
    if encrypted:
        assert b"drawing" not in archive.read_bytes()

    for file in root.rglob("*"):
        if file.is_file():
            file.unlink()
    target = await new_database(create=False)
    restore_keys = ["--key-file", str(tmp_path / "key")] if encrypted else []
    assert await run_cli(["restore", str(path), "--to", target, *restore_keys]) == 0
    assert "2 stored files restored" in capsys.readouterr().out
    assert (await storage.read_head(key, len(body) + 1)) == body
    assert await storage.stat(thumbnail_key(key)) == len(b"RIFF....WEBP")
    assert await storage.stat(unfinished) is None


async def test_an_altered_archive_stops_the_restore(
        cli_env: str, tmp_path: Path, new_database: NewDatabase,
        capsys: pytest.CaptureFixture[str]) -> None:
    storage = LocalStorage(tmp_path / "data" / "files")
    await storage.put_stream(object_key(uuid.uuid4(), uuid.uuid4()), chunks(b"photo"))
    assert await run_cli(["backup", "--to", str(tmp_path / "b")]) == 0
    path = Path(capsys.readouterr().out.strip().splitlines()[-1])
    manifest = Manifest.read(path)
    assert manifest.files is not None
    archive = path.with_name(manifest.files["file"])
    archive.write_bytes(archive.read_bytes() + b"\0")
    target = await new_database(create=False)
    assert await run_cli(["restore", str(path), "--to", target]) == 1
    assert "file store archive" in capsys.readouterr().err
