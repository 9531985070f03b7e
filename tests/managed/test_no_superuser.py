"""No superuser, ever: `migrate` as a login that owns its database and has CREATEROLE (a
managed service's master user), or with the roles created beforehand by a DBA from
`formula-pm roles-sql`; no role of the service has SUPERUSER or BYPASSRLS; and the auth,
row-level security, audit and real-time tests pass with the service logged in that way.

All of it on a private PostgreSQL server of this module's own (roles are server-wide: on a
shared server an older installation's roles could still carry BYPASSRLS and hide a need
for it), where the migrations create the roles from nothing."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from cli.embedded import with_database
from cli.main import main
from tests.conftest import as_login
from tests.managed.cluster import Cluster

ROOT = Path(__file__).resolve().parents[2]
# What the service's own login is checked against, re-run as that login.
SUITE_AS_OWNER = (
    "tests/server/test_auth.py", "tests/server/test_key_rotation.py",
    "tests/db/test_row_security.py", "tests/db/test_audit_trail.py",
    "tests/server/test_audit.py", "tests/realtime/test_live.py",
    "tests/server/test_legacy_import.py",
)


class Login:
    def __init__(self, admin_dsn: str, createrole: bool) -> None:
        self.admin_dsn = admin_dsn
        self.name = f"fpm_login_{secrets.token_hex(4)}"
        self.database = f"fpm_svc_{secrets.token_hex(4)}"
        self.createrole = createrole

    @property
    def url(self) -> str:
        return as_login(with_database(self.admin_dsn, self.database), self.name)

    async def admin(self, *statements: str) -> None:
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            for sql in statements:
                await conn.execute(sql)
        finally:
            await conn.close()


@pytest.fixture(scope="module")
def server() -> Iterator[Cluster]:
    cluster = Cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
async def login(server: Cluster, request: pytest.FixtureRequest) -> AsyncIterator[Login]:
    made = Login(server.url(), createrole=request.param == "createrole")
    attributes = "LOGIN CREATEROLE" if made.createrole else "LOGIN"
    await made.admin(f'CREATE ROLE "{made.name}" {attributes} NOSUPERUSER NOBYPASSRLS')
    try:
        yield made
    finally:
        await made.admin(f'DROP DATABASE IF EXISTS "{made.database}" WITH (FORCE)',
                         f'DROP ROLE IF EXISTS "{made.name}"')


def _cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: str,
         url: str | None = None) -> int:
    if url is None:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("JWT_SECRET", raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    return main(list(args))


@pytest.mark.parametrize("login", ["createrole"], indirect=True)
async def test_migrate_as_a_database_owner_with_createrole_twice(
        login: Login, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    await login.admin(f'CREATE DATABASE "{login.database}" OWNER "{login.name}"')
    assert await asyncio.to_thread(_cli, monkeypatch, tmp_path, "migrate", url=login.url) == 0
    assert "applied 0001" in capsys.readouterr().out
    assert await asyncio.to_thread(_cli, monkeypatch, tmp_path, "migrate", url=login.url) == 0
    assert "nothing to do" in capsys.readouterr().out
    await _no_role_is_privileged(login)


@pytest.mark.parametrize("login", ["plain"], indirect=True)
async def test_migrate_needs_no_role_privilege_once_a_dba_ran_roles_sql(
        login: Login, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    args = ["roles-sql", "--login", login.name, "--database", login.database]
    assert await asyncio.to_thread(_cli, monkeypatch, tmp_path, *args) == 0
    script = capsys.readouterr().out
    roles, database = script.split("-- The service database", 1)
    await login.admin(roles, roles)  # twice: running it again changes nothing
    await login.admin(database.split("\n", 1)[1])  # psql runs it as its own statement
    assert await asyncio.to_thread(_cli, monkeypatch, tmp_path, "migrate", url=login.url) == 0
    assert await asyncio.to_thread(
        _cli, monkeypatch, tmp_path, "migrate", "--status", url=login.url) == 0
    await _no_role_is_privileged(login)


async def _no_role_is_privileged(login: Login) -> None:
    conn = await asyncpg.connect(login.admin_dsn)
    try:
        rows = await conn.fetch(
            "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = ANY($1)",
            ["formula_pm_app", "formula_pm_system", login.name])
    finally:
        await conn.close()
    assert len(rows) == 3
    assert not [r["rolname"] for r in rows if r["rolsuper"] or r["rolbypassrls"]]


def test_the_suite_passes_with_the_service_logged_in_as_an_owner_not_a_superuser(
        server: Cluster) -> None:
    """Auth, row-level security, audit, import and real-time tests, with the migrations,
    the app and the live workers logged in as a CREATEROLE owner (FPM_TEST_SERVICE_LOGIN),
    on the private server whose roles have no special attribute."""
    env = {**os.environ, "FPM_TEST_SERVICE_LOGIN": "owner", "TEST_DATABASE_URL": server.url()}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
         *SUITE_AS_OWNER], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
        check=False)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert " passed" in done.stdout.strip().splitlines()[-1]
