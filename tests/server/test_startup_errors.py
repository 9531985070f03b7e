"""A start that cannot work ends with ONE plain line on stderr (no traceback, no log line
around it), nothing on stdout, and the documented exit code: 2 configuration, 4 database or
Redis unavailable, 5 address in use."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.embedded import with_database
from cli.fatal import ADDRESS_IN_USE, CONFIG, UNAVAILABLE
from server.config import Settings
from tests.conftest import _free_port, as_login
from tests.serve_process import Serve


def _env(settings: Settings, folder: Path, **changes: str) -> dict[str, str]:
    return {"DATABASE_URL": settings.database_url or "", "REDIS_URL": settings.redis_url or "",
            "JWT_SECRET": settings.jwt_secret, "FPM_ENV": settings.env_name,
            "DATA_DIR": str(folder), **changes}


def _fails(env: dict[str, str], folder: Path, port: int | None = None) -> tuple[int, str]:
    """(exit code, the one line on stderr) of a `serve` that must not start."""
    serve = Serve(env, folder, port or _free_port())
    code = serve.run(timeout=60)
    lines = serve.stderr.splitlines()
    assert len(lines) == 1, serve.stderr
    assert lines[0].startswith("formula-pm: ")
    assert serve.stdout == ""
    return code, lines[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def test_a_taken_port(settings: Settings, tmp_path: Path, taken_port: int) -> None:
    code, line = _fails(_env(settings, tmp_path), tmp_path, taken_port)
    assert code == ADDRESS_IN_USE
    assert f"127.0.0.1:{taken_port} is already in use" in line


def test_a_missing_database(settings: Settings, tmp_path: Path) -> None:
    name = f"fpm_missing_{secrets.token_hex(4)}"
    missing = with_database(settings.database_url or "", name)
    code, line = _fails(_env(settings, tmp_path, DATABASE_URL=missing), tmp_path)
    assert code == UNAVAILABLE
    assert f"/{name} does not exist" in line


def test_a_login_the_database_refuses(settings: Settings, tmp_path: Path) -> None:
    login = f"fpm_nobody_{secrets.token_hex(4)}"
    refused = as_login(settings.database_url or "", login)
    code, line = _fails(_env(settings, tmp_path, DATABASE_URL=refused), tmp_path)
    assert code == UNAVAILABLE
    assert f"refused the login '{login}'" in line


def test_a_database_that_does_not_answer(settings: Settings, tmp_path: Path) -> None:
    closed = f"postgresql://postgres@127.0.0.1:{_free_port()}/formula_pm"
    code, line = _fails(_env(settings, tmp_path, DATABASE_URL=closed), tmp_path)
    assert code == UNAVAILABLE
    assert "cannot reach the database at 127.0.0.1:" in line
    assert line.endswith("connection refused (is PostgreSQL listening there?)")


def test_a_redis_that_does_not_answer(settings: Settings, tmp_path: Path) -> None:
    port = _free_port()
    closed = f"redis://127.0.0.1:{port}/0"
    code, line = _fails(_env(settings, tmp_path, REDIS_URL=closed), tmp_path)
    assert code == UNAVAILABLE
    assert f"Redis at 127.0.0.1:{port}/0 does not answer" in line


def test_a_bad_setting(settings: Settings, tmp_path: Path) -> None:
    code, line = _fails(_env(settings, tmp_path, JWT_SECRET="short"), tmp_path)
    assert code == CONFIG
    assert "JWT_SECRET must be at least 32 characters" in line
