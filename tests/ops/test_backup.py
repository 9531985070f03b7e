"""`formula-pm backup` and `formula-pm restore`: what is restored equals the source, bad
files and keys are refused with the target untouched, retention touches only this
database's older backups, and an older schema restores and then migrates."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from cli.backup.manifest import Manifest, file_sha256, manifest_path
from db.migrate import revisions
from server.config import Settings
from tests.conftest import World
from tests.ops.conftest import NewDatabase, fingerprint, run_cli, scratch_databases

KEY = "k" * 48


def _last_line(out: str) -> Path:
    return Path(out.strip().splitlines()[-1])


async def _read_projects(settings: Settings, user: dict[str, Any], world: World) -> Any:
    """GET /api/v1/projects and one project, through a real app on `settings`."""
    from server.app import create_app

    app = create_app(settings)
    async with TestClient(TestServer(app)) as client:
        headers = await world.headers(app, user)
        listing = await client.get("/api/v1/projects", headers=headers)
        assert listing.status == 200
        body = await listing.json()
        one = await client.get(f"/api/v1/projects/{body['data'][0]['id']}", headers=headers)
        assert one.status == 200
        return body["data"], await one.json()


async def _seed(world: World) -> dict[str, Any]:
    org = await world.org("backup-co")
    admin = await world.user(org, "admin")
    await world.project(org, members=[admin], name="Nişantaşı Residence")
    await world.project(org, name="Levent Tower")
    return admin


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_backup_then_restore_into_a_fresh_database_is_the_same(
    encrypted: bool, cli_env: str, world: World, settings: Settings, tmp_path: Path,
    new_database: NewDatabase, capsys: pytest.CaptureFixture[str], pool: asyncpg.Pool,
) -> None:
    admin = await _seed(world)
    before = await _read_projects(settings, admin, world)
    key_args: list[str] = []
    if encrypted:
        (tmp_path / "key").write_text(KEY)
        key_args = ["--encrypt-key-file", str(tmp_path / "key")]
    source = await fingerprint(cli_env)

    assert await run_cli(["backup", "--to", str(tmp_path / "b"), *key_args]) == 0
    path = _last_line(capsys.readouterr().out)
    assert path.is_file() and path.name.endswith(".dump.sealed" if encrypted else ".dump")
    manifest = Manifest.read(path)
    assert manifest.sha256 == file_sha256(path) and manifest.encrypted is encrypted
    assert manifest.schema_revision == revisions()[-1]
    assert manifest.tables == {t: n for t, (n, _) in source.items()}
    assert manifest.highest_audit_id > 0 and manifest.server_version
    if encrypted:
        assert b"PGDMP" not in path.read_bytes()[:4096]

    target = await new_database(create=False)
    restore_keys = ["--key-file", str(tmp_path / "key")] if encrypted else []
    assert await run_cli(["restore", str(path), "--to", target, *restore_keys]) == 0
    out = capsys.readouterr().out
    assert "highest audit id" in out and "MISMATCH" not in out
    assert await fingerprint(target) == source  # every table, the audit log included
    restored = settings.model_copy(update={"database_url": target,
                                           "env_name": settings.env_name + "r"})
    assert await _read_projects(restored, admin, world) == before

    async with pool.acquire() as conn:
        events = await conn.fetch("SELECT org_id, details FROM audit_logs "
                                  "WHERE action = 'backup_completed'")
    assert len(events) == 1 and events[0]["org_id"] is None
    assert events[0]["details"]["sha256"] == manifest.sha256


async def test_truncated_tampered_or_wrongly_keyed_backups_leave_the_target_untouched(
    cli_env: str, world: World, tmp_path: Path, new_database: NewDatabase,
    capsys: pytest.CaptureFixture[str], admin_dsn: str,
) -> None:
    await _seed(world)
    (tmp_path / "key").write_text(KEY)
    (tmp_path / "other").write_text("o" * 48)
    assert await run_cli(["backup", "--to", str(tmp_path / "b"),
                          "--encrypt-key-file", str(tmp_path / "key")]) == 0
    good = _last_line(capsys.readouterr().out)
    target = await new_database(create=False)
    assert await run_cli(["restore", str(good), "--to", target,
                          "--key-file", str(tmp_path / "key")]) == 0
    await _mark(target)
    untouched = await fingerprint(target)
    capsys.readouterr()

    async def refused(path: Path, key: str, message: str) -> None:
        code = await run_cli(["restore", str(path), "--to", target, "--force",
                              "--key-file", str(tmp_path / key)])
        err = capsys.readouterr().err
        assert code == 1 and message in err, err
        assert "nothing was changed" in err
        assert await fingerprint(target) == untouched
        assert await scratch_databases(admin_dsn) == []

    data = good.read_bytes()
    await refused(good, "other", "wrong key")
    _copy(good, tmp_path / "t", data[: len(data) // 2])
    await refused(_named(tmp_path / "t", good), "key", "truncated or altered")
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x40
    await refused(_copy(good, tmp_path / "f", bytes(flipped)), "key", "does not match the sha256")
    # Someone who rewrites the manifest too is still caught by the cipher.
    forged = _copy(good, tmp_path / "g", bytes(flipped), fix_manifest=True)
    await refused(forged, "key", "fails authentication")
    cut = _copy(good, tmp_path / "c", data[: len(data) - 40], fix_manifest=True)
    await refused(cut, "key", "truncated")


async def _mark(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("UPDATE organizations SET name = 'Marked' WHERE slug = 'backup-co'")
    finally:
        await conn.close()


def _named(directory: Path, original: Path) -> Path:
    return directory / original.name


def _copy(original: Path, directory: Path, data: bytes, *, fix_manifest: bool = False) -> Path:
    """`data` under the original's name in `directory`, with the original manifest (or one
    rewritten to match the new bytes)."""
    directory.mkdir(exist_ok=True)
    path = directory / original.name
    path.write_bytes(data)
    manifest = json.loads(manifest_path(original).read_text())
    if fix_manifest:
        manifest.update(size_bytes=len(data), sha256=file_sha256(path))
    manifest_path(path).write_text(json.dumps(manifest))
    return path


async def test_a_non_empty_target_needs_force(
    cli_env: str, world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    await _seed(world)
    assert await run_cli(["backup", "--to", str(tmp_path)]) == 0
    path = _last_line(capsys.readouterr().out)
    assert await run_cli(["restore", str(path)]) == 1  # into DATABASE_URL itself
    assert "not empty" in capsys.readouterr().err


async def test_keep_removes_only_older_backups_of_this_database(
    cli_env: str, world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    await _seed(world)
    db = cli_env.rsplit("/", 1)[1]
    older = [tmp_path / f"formula-pm-{db}-2020010{d}T000000Z.dump" for d in (1, 2, 3)]
    mine_sealed = tmp_path / f"formula-pm-{db}-20200104T000000Z.dump.sealed"
    others = [tmp_path / "formula-pm-otherdb-20200101T000000Z.dump",
              tmp_path / f"formula-pm-{db}x-20200101T000000Z.dump",
              tmp_path / f"formula-pm-{db}-20200101T000000Z.dump.bak",
              tmp_path / "notes.txt", tmp_path / f"formula-pm-{db}-latest.dump"]
    for path in [*older, mine_sealed, *others]:
        path.write_bytes(b"x")
        manifest_path(path).write_text("{}") if path.name.endswith((".dump", ".sealed")) \
            and path.name.startswith(f"formula-pm-{db}-2") else None
    assert await run_cli(["backup", "--to", str(tmp_path), "--keep", "2"]) == 0
    newest = _last_line(capsys.readouterr().out)
    assert newest.exists() and manifest_path(newest).exists()
    assert mine_sealed.exists() and manifest_path(mine_sealed).exists()
    for path in older:
        assert not path.exists() and not manifest_path(path).exists()
    for path in others:
        assert path.exists(), path
    assert await run_cli(["backup", "--to", str(tmp_path), "--keep", "0"]) == 2


async def test_an_older_schema_restores_and_then_migrates(
    new_database: NewDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = await new_database()
    monkeypatch.setenv("DATABASE_URL", source)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("JWT_SECRET", raising=False)
    assert await run_cli(["migrate", "--revision", "0012"]) == 0
    assert await run_cli(["backup", "--to", str(tmp_path)]) == 0
    path = _last_line(capsys.readouterr().out)
    assert Manifest.read(path).schema_revision == "0012"
    target = await new_database(create=False)
    assert await run_cli(["restore", str(path), "--to", target]) == 0
    monkeypatch.setenv("DATABASE_URL", target)
    assert await run_cli(["migrate"]) == 0
    assert f"upgraded from 0012 to {revisions()[-1]}" in capsys.readouterr().out


async def test_a_failed_backup_is_recorded_with_its_reason(
    cli_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], pool: asyncpg.Pool,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert await run_cli(["backup", "--to", str(blocker)]) == 1
    assert "backup failed" in capsys.readouterr().err
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT details FROM audit_logs WHERE action = 'backup_failed'")
    assert len(rows) == 1 and rows[0]["details"]["reason"]


async def test_restore_drill_drops_its_database(
    cli_env: str, world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    admin_dsn: str,
) -> None:
    await _seed(world)
    assert await run_cli(["backup", "--to", str(tmp_path)]) == 0
    path = _last_line(capsys.readouterr().out)
    assert await run_cli(["restore", "--verify", str(path)]) == 0
    assert "verified" in capsys.readouterr().out
    assert await scratch_databases(admin_dsn) == []


def test_a_short_key_file_is_refused(tmp_path: Path, cli_env: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    (tmp_path / "k").write_text("short")
    assert main(["backup", "--to", str(tmp_path), "--encrypt-key-file",
                 str(tmp_path / "k")]) == 2
    assert "at least 32" in capsys.readouterr().err
    assert not any(p.name.startswith("formula-pm-") for p in tmp_path.iterdir())


async def test_a_login_that_is_no_superuser_backs_up_and_restores(
    admin_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The managed-service shape: the service's login owns its database, may create
    databases and roles, and is no superuser; it passes row-level security only through
    the service's system role."""
    from cli.embedded import with_database
    from tests.conftest import as_login

    login = f"fpm_ops_owner_{secrets.token_hex(3)}"
    source_name, target_name = f"fpm_ops_{secrets.token_hex(4)}", f"fpm_ops_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE ROLE "{login}" LOGIN NOSUPERUSER CREATEDB CREATEROLE')
        await admin.execute(f'GRANT formula_pm_app, formula_pm_system TO "{login}"')
        await admin.execute(f'CREATE DATABASE "{source_name}" OWNER "{login}"')
        source = as_login(with_database(admin_dsn, source_name), login)
        target = as_login(with_database(admin_dsn, target_name), login)
        monkeypatch.setenv("DATABASE_URL", source)
        monkeypatch.setenv("JWT_SECRET", "c" * 40)
        monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
        assert await run_cli(["seed-demo", "--projects", "2"]) == 0
        before = await fingerprint(with_database(admin_dsn, source_name))
        assert await run_cli(["backup", "--to", str(tmp_path)]) == 0
        path = _last_line(capsys.readouterr().out)
        assert Manifest.read(path).tables["projects"] == 2
        assert await run_cli(["restore", str(path), "--to", target]) == 0
        superuser_view = with_database(admin_dsn, target_name)
        assert await fingerprint(superuser_view) == before
        check = await asyncpg.connect(superuser_view)
        try:
            owner = await check.fetchval(
                "SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE proname = "
                "'fpm_record_event'")
            timeout = await check.fetchval(
                "SELECT setconfig FROM pg_db_role_setting s JOIN pg_database d "
                "ON d.oid = s.setdatabase WHERE d.datname = $1", target_name)
        finally:
            await check.close()
        assert owner == "formula_pm_system"
        assert timeout == ["idle_in_transaction_session_timeout=60s"]
    finally:
        for name in (source_name, target_name):
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'DROP ROLE IF EXISTS "{login}"')
        await admin.close()
