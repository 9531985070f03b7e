"""Redis with a password, an ACL user and TLS: the cache, the bus, presence and throttles
all work from REDIS_URL alone; wrong credentials stop `serve` with one line."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from cli.fatal import UNAVAILABLE
from cli.main import main
from server.app import create_app
from server.config import Settings
from tests.conftest import PASSWORD, World
from tests.managed.certs import authority, server_certificate
from tests.managed.redis_servers import SecuredRedis
from tests.realtime.conftest import Sock, add_task


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredRedis]:
    folder = tmp_path_factory.mktemp("redis-tls")
    ca = authority(folder)
    cert, key = server_certificate(ca, folder)
    server = SecuredRedis(cert, key, ca.cert)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("kind", ["password", "acl-user", "tls"])
async def test_cache_bus_presence_and_throttles_over_a_secured_redis(
        kind: str, secured: SecuredRedis, settings: Settings, aiohttp_client: Any,
        world: World, pool: Any, socks: Callable[[], Sock]) -> None:
    url = {"password": secured.url(), "acl-user": secured.url(acl=True),
           "tls": secured.tls_url()}[kind]
    app = create_app(settings.model_copy(
        update={"redis_url": url, "env_name": f"{settings.env_name}{kind}"}))
    http = await aiohttp_client(app)
    org = await world.org()
    admin = await world.user(org, "admin")
    member = await world.user(org, "designer", first_name="Zeynep")
    project = await world.project(org, members=[member])
    token = await world.token(app, member)
    headers = {"Authorization": f"Bearer {token}"}

    sock = socks()
    await sock.connect(str(http.make_url("")).rstrip("/"), token)
    assert (await sock.call("subscribe", {"project_id": str(project)}))["ok"]
    await sock.wait_for(lambda: bool(sock.named("presence")))  # presence lives in Redis
    await add_task(pool, admin, project, "over a secured Redis")
    await sock.wait_for(lambda: bool(sock.named("task.created")))  # through the bus

    for _ in range(2):  # the second read is a hit in Redis
        assert (await http.get(f"/api/v1/projects/{project}", headers=headers)).status == 200
    ready = await (await http.get("/health/ready")).json()
    assert ready["cache"]["backend"] == "redis" and ready["cache"]["hits"] >= 1, ready

    for _ in range(2):  # failed sign-ins are counted in Redis
        failed = await http.post("/api/v1/auth/login",
                                 json={"email": member["email"], "password": "wrong " * 3})
        assert failed.status == 401
    client = aioredis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{app_prefix(app)}*")]
    finally:
        await client.aclose()
    assert keys, "nothing of the worker's reached this Redis"
    signed_in = await http.post("/api/v1/auth/login",
                                json={"email": member["email"], "password": PASSWORD})
    assert signed_in.status == 200


def app_prefix(app: Any) -> str:
    from server.keys import SETTINGS

    prefix: str = app[SETTINGS].key_prefix
    return prefix


@pytest.mark.parametrize("which", ["password", "acl-user"])
async def test_wrong_redis_credentials_stop_serve_with_one_line(
        which: str, secured: SecuredRedis, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    bad = (secured.url(password="not-the-password") if which == "password"
           else secured.url(acl=True, password="not-the-password"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("JWT_SECRET", "k" * 40)
    monkeypatch.setenv("REDIS_URL", bad)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    code = await asyncio.to_thread(main, ["serve", "--port", "0"])
    err = capsys.readouterr().err
    assert code == UNAVAILABLE and "Redis at 127.0.0.1" in err, err
    assert "not-the-password" not in err and "Traceback" not in err
