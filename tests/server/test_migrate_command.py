"""`formula-pm migrate`: status with an exit code, up and down to a revision, no JWT_SECRET."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from cli.embedded import with_database
from cli.fatal import BEHIND
from cli.main import main
from db.migrate import revisions


@pytest.fixture
async def empty_database(admin_dsn: str, monkeypatch: pytest.MonkeyPatch,
                         tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own, named by DATABASE_URL, with no JWT_SECRET set."""
    name = f"fpm_migrate_cli_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(admin_dsn, name)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("JWT_SECRET", raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    try:
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _run(args: list[str]) -> int:
    return await asyncio.to_thread(main, args)


async def test_status_up_and_down_without_a_jwt_secret(
    empty_database: str, capsys: pytest.CaptureFixture[str],
) -> None:
    chain = revisions()
    head, early = chain[-1], chain[2]
    assert await _run(["migrate", "--status"]) == BEHIND
    out = capsys.readouterr().out
    assert "current revision: none" in out and f"pending:          {len(chain)}" in out

    assert await _run(["migrate"]) == 0
    out = capsys.readouterr().out
    assert f"applied {chain[0]}" in out and f"to {head}" in out
    assert await _run(["migrate", "--status"]) == 0
    assert "at head" in capsys.readouterr().out

    assert await _run(["migrate", "--revision", early]) == 0  # down, not "nothing"
    out = capsys.readouterr().out
    assert f"undid {head}" in out and f"downgraded from {head} to {early}" in out
    assert await _run(["migrate", "--status"]) == BEHIND
    out = capsys.readouterr().out
    assert f"current revision: {early}" in out and head in out

    assert await _run(["migrate", "--revision", early]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert await _run(["migrate"]) == 0
    assert f"upgraded from {early} to {head}" in capsys.readouterr().out


async def test_an_unknown_revision_is_a_clear_error_that_changes_nothing(
    empty_database: str, capsys: pytest.CaptureFixture[str],
) -> None:
    assert await _run(["migrate", "--revision", "9999"]) == 2
    assert "unknown revision '9999'" in capsys.readouterr().err
    assert await _run(["migrate", "--status"]) == BEHIND  # still empty
