"""TLS to PostgreSQL from DATABASE_URL alone, against a private server that requires it:
the migrations, the pool, the change leader's connection and the CLI connect alike, and a
certificate that does not verify stops a command with one line."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from cli.fatal import CONFIG, UNAVAILABLE
from cli.main import main
from db.migrate import upgrade
from db.pool import create_pool
from server.app import create_app
from server.config import Settings
from tests.managed.certs import authority, server_certificate
from tests.managed.cluster import Cluster


class TlsServer:
    def __init__(self, folder: Path) -> None:
        self.ca = authority(folder)
        self.wrong_ca = authority(folder, "Some other CA")
        self.cluster = Cluster(
            tls=server_certificate(self.ca, folder),
            hba=("hostssl all all 127.0.0.1/32 trust", "hostnossl all all 127.0.0.1/32 reject"))

    def url(self, mode: str, ca: Path | None = None, database: str = "postgres") -> str:
        query = f"sslmode={mode}" + (f"&sslrootcert={ca}" if ca else "")
        return self.cluster.url(database, query=query)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    server = TlsServer(tmp_path_factory.mktemp("tls"))
    try:
        yield server
    finally:
        server.cluster.stop()


async def _uses_tls(url: str) -> bool:
    conn = await asyncpg.connect(url)
    try:
        return bool(await conn.fetchval(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))
    finally:
        await conn.close()


def _cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str, *args: str) -> int:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("JWT_SECRET", raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    return main(list(args))


async def test_verify_full_migrates_pools_and_leads_over_tls(
        tls: TlsServer, settings: Settings, aiohttp_client: Any) -> None:
    url = tls.url("verify-full", tls.ca.cert)
    await asyncio.to_thread(upgrade, url)
    assert await _uses_tls(url)
    pool = await create_pool(url, min_size=1, max_size=2)
    try:
        assert await pool.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert await pool.fetchval("SELECT count(*) FROM alembic_version") == 1
    finally:
        await pool.close()
    app = create_app(settings.model_copy(update={"database_url": url, "redis_url": None}))
    http = await aiohttp_client(app)
    leader_tls = None
    for _ in range(100):
        ready = await (await http.get("/health/ready")).json()
        if ready["realtime"]["role"] == "leader":
            leader_tls = await _leader_uses_tls(url)
            break
        await asyncio.sleep(0.1)
    assert leader_tls is True


async def _leader_uses_tls(url: str) -> bool | None:
    conn = await asyncpg.connect(url)
    try:
        value: bool | None = await conn.fetchval(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
            "WHERE a.application_name = 'formula-pm-leader'")
        return value
    finally:
        await conn.close()


async def test_require_encrypts_without_verifying(tls: TlsServer) -> None:
    assert await _uses_tls(tls.url("require"))
    assert await _uses_tls(tls.url("verify-ca", tls.ca.cert))


async def test_a_wrong_ca_stops_the_command_with_one_line(
        tls: TlsServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    for mode in ("verify-ca", "verify-full"):
        code = await asyncio.to_thread(_cli, monkeypatch, tmp_path,
                                       tls.url(mode, tls.wrong_ca.cert), "migrate")
        err = capsys.readouterr().err
        assert code == UNAVAILABLE, err
        assert "certificate did not verify" in err and "sslrootcert" in err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1


async def test_without_tls_the_server_refuses_and_the_command_says_so(
        tls: TlsServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    code = await asyncio.to_thread(_cli, monkeypatch, tmp_path, tls.url("disable"), "migrate")
    err = capsys.readouterr().err
    assert code == UNAVAILABLE and "refused" in err and "no encryption" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("url, says", [
    ("postgresql://postgres@127.0.0.1:5432/x?sslmode=sometimes", "unknown sslmode='sometimes'"),
    ("postgresql://postgres@127.0.0.1:5432/x?sslmode=verify-full&sslrootcert=/nope/ca.crt",
     "sslrootcert=/nope/ca.crt is not a readable file"),
    ("postgresql://postgres@127.0.0.1:5432/x?sslmode=require&sslcert=/nope/c.crt",
     "sslcert=/nope/c.crt is not a readable file"),
    ("mysql://root@127.0.0.1/x", "must start with postgresql://"),
    ("postgresql://postgres@127.0.0.1:port/x", "not a valid URL"),
    ("postgresql:///x", "names no host"),
])
def test_a_bad_database_url_is_a_clear_error_that_connects_nowhere(
        url: str, says: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(monkeypatch, tmp_path, url, "migrate", "--status") == CONFIG
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
