"""`formula-pm check`: one line per check, the fix when not ok, exit 1 on a failure."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from cli.main import main


def _check(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *args: str) -> int:
    for name in ("DATABASE_URL", "REDIS_URL", "SMTP_URL", "JWT_SECRET", "DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return main(["check", *args])


async def test_a_good_configuration_passes_every_check(
        database_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "JWT_SECRET": "j" * 40,
           "DATA_DIR": str(tmp_path)}
    assert await asyncio.to_thread(_check, monkeypatch, env) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    names = [line.split()[1] for line in lines]
    assert names == ["jwt_secret", "database", "tls", "server", "roles", "extensions",
                     "migrations", "redis", "smtp", "data_dir"]
    assert all(line.split()[0] in ("ok", "warn") for line in lines), lines
    assert "at head" in lines[names.index("migrations")]
    assert "round trip" in lines[names.index("redis")]

    assert await asyncio.to_thread(_check, monkeypatch, env, "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is True and len(document["checks"]) == 10


async def test_failures_say_what_and_how_to_fix_and_exit_1(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    env = {"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere",
           "REDIS_URL": "redis://127.0.0.1:1/0", "SMTP_URL": "smtp://127.0.0.1:1",
           "DATA_DIR": str(blocked / "data")}
    assert await asyncio.to_thread(_check, monkeypatch, env, "--json") == 1
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    for name in ("jwt_secret", "database", "redis", "smtp", "data_dir"):
        assert checks[name]["status"] == "fail" and checks[name]["fix"], checks[name]
    assert "Traceback" not in json.dumps(checks)
