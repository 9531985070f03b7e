"""The command line: help texts, create-admin, invite, seed-demo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cli.main import build_parser, main


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> Path:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("JWT_SECRET", "c" * 40)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("SMTP_URL", raising=False)
    return tmp_path


@pytest.mark.parametrize("command", ["serve", "migrate", "create-admin", "seed-demo", "invite"])
def test_every_command_explains_itself(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([command, "--help"])
    assert exit_.value.code == 0
    assert len(capsys.readouterr().out) > 200


def test_missing_jwt_secret_with_database_url_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nowhere/db")
    monkeypatch.delenv("JWT_SECRET", raising=False)
    assert main(["serve"]) == 2
    assert "JWT_SECRET" in capsys.readouterr().err


async def test_create_admin_then_invite(cli_env: Path, pool: Any,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    args = ["create-admin", "--org", "acme-fitout", "--org-name", "Acme Fit-Out",
            "--email", "Boss@Acme.test", "--password", "Patron şifresi 99"]
    assert await asyncio.to_thread(main, args) == 0
    user_id = capsys.readouterr().out.strip()
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT u.role, o.slug FROM users u JOIN organizations o "
                                  "ON o.id = u.org_id WHERE u.id = $1::uuid", user_id)
    assert dict(row) == {"role": "admin", "slug": "acme-fitout"}
    assert await asyncio.to_thread(main, args) == 2  # the e-mail is taken now
    weak = ["create-admin", "--org", "x", "--email", "a@b.test", "--password", "short"]
    assert await asyncio.to_thread(main, weak) == 2
    invite = ["invite", "--org", "acme-fitout", "--email", "boss@acme.test"]
    assert await asyncio.to_thread(main, invite) == 0
    assert "token=" in capsys.readouterr().out
    assert len(list((cli_env / "outbox").glob("*.eml"))) == 1


async def test_seed_demo_is_deterministic_and_loads_once(cli_env: Path, pool: Any) -> None:
    import asyncio

    args = ["seed-demo", "--projects", "2", "--password", "Demo parolası 1"]
    assert await asyncio.to_thread(main, args) == 0
    async with pool.acquire() as conn:
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM projects) p, (SELECT count(*) FROM tasks) t, "
            "(SELECT count(DISTINCT role) FROM users) r, (SELECT count(*) FROM audit_logs) a")
    assert counts["p"] == 2 and counts["t"] == 80 and counts["r"] == 6
    assert counts["a"] > 200  # the seed went through the triggers like any other write
    assert await asyncio.to_thread(main, args) == 0  # already there: nothing loaded
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM projects") == 2
