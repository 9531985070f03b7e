"""Fuzz the served OpenAPI document with schemathesis (`--checks all`) against a live server
on a fresh database, once signed in as an org admin and once as a project manager who is a
member of the seeded project: no 5xx, and every answer (status, content type, headers,
body) must match the document.

    .venv/bin/python bench/fuzz_openapi.py [--max-examples 15] [--max-time 120] [--role admin]

Every operation under /api/v1 is run except `POST /api/v1/auth/logout`, which would end
the very session the run signs its requests with. Writes
bench/results/fuzz-openapi-<role>.txt (the schemathesis output) and exits non-zero on any
failure. Needs PostgreSQL (TEST_DATABASE_URL, default the local server).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import asyncpg
from aiohttp import ClientSession, web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cli.embedded import with_database  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.pool import Actor, system_transaction  # noqa: E402
from server.app import create_app  # noqa: E402
from server.auth.sessions import start_session  # noqa: E402
from server.config import Settings  # noqa: E402
from server.http import HANDLER_ARGS  # noqa: E402
from server.keys import POOL  # noqa: E402

ROLES = ("admin", "member")
CONFIG = ROOT / "bench" / "schemathesis.toml"  # why some checks expect more statuses


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def admin_sql(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def seed(app: web.Application) -> dict[str, str]:
    """An org with an admin and a project manager, a client, a project both are members of
    and a task; returns each one's access token by role name (`admin`, `member`)."""
    async with system_transaction(app[POOL]) as conn:
        org = await conn.fetchval("INSERT INTO organizations (name, slug) VALUES "
                                  "('Fuzz', 'fuzz') RETURNING id")
        admin = await conn.fetchval(
            "INSERT INTO users (org_id, email, first_name, last_name, role) VALUES "
            "($1, 'admin@fuzz.test', 'Fuzz', 'Admin', 'admin') RETURNING id", org)
        manager = await conn.fetchval(
            "INSERT INTO users (org_id, email, first_name, last_name, role) VALUES "
            "($1, 'pm@fuzz.test', 'Fuzz', 'Manager', 'project_manager') RETURNING id", org)
    async with system_transaction(app[POOL], Actor(admin, org)) as conn:
        client = await conn.fetchval(
            "INSERT INTO clients (org_id, name) VALUES ($1, 'Fuzz client') RETURNING id", org)
        project = await conn.fetchval(
            "INSERT INTO projects (org_id, name, type, client_id, created_by) VALUES "
            "($1, 'Fuzz project', 'office', $2, $3) RETURNING id", org, client, admin)
        await conn.executemany(
            "INSERT INTO project_members (org_id, project_id, user_id, role) "
            "VALUES ($1, $2, $3, $4)",
            [(org, project, admin, "admin"), (org, project, manager, "project_manager")])
        await conn.execute("INSERT INTO tasks (org_id, project_id, name) VALUES ($1, $2, 'T')",
                           org, project)
    tokens = {}
    for role, user, user_role in (("admin", admin, "admin"),
                                  ("member", manager, "project_manager")):
        pair = await start_session(app, user_id=user, org_id=org, role=user_role)
        tokens[role] = pair.access_token
    return tokens


async def fuzz(args: argparse.Namespace) -> int:
    failed = 0
    for role in args.role or ROLES:
        failed |= await fuzz_as(role, args)
    return failed


async def fuzz_as(role: str, args: argparse.Namespace) -> int:
    """One run on a server and a database of its own: what the admin run changes (users
    deactivated, sessions ended) must not reach the member's run."""
    dsn = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"fpm_fuzz_{secrets.token_hex(4)}"
    await admin_sql(dsn, f'CREATE DATABASE "{name}"')
    data_dir = Path(tempfile.mkdtemp(prefix="fpm-fuzz-"))
    runner = None
    try:
        url = with_database(dsn, name)
        await asyncio.to_thread(upgrade, url)
        settings = Settings(database_url=url, jwt_secret=secrets.token_hex(32),
                            env_name=f"fuzz{secrets.token_hex(3)}", data_dir=data_dir,
                            pool_min_size=1, pool_max_size=4)
        app = create_app(settings)
        # The parser limits `formula-pm serve` uses (its own 414 for long URLs).
        runner = web.AppRunner(app, access_log=None, **HANDLER_ARGS)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        token = (await seed(app))[role]
        failed = await run_schemathesis(port, role, token, args)
        return failed | await session_survived(port, role, token)
    finally:
        if runner is not None:
            await runner.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)
        await admin_sql(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def session_survived(port: int, role: str, token: str) -> int:
    """1 when the run's own session ended under it: its figures would be of 401s."""
    async with ClientSession() as http, http.get(
            f"http://127.0.0.1:{port}/api/v1/auth/me",
            headers={"Authorization": f"Bearer {token}"}) as response:
        if response.status == 200:
            return 0
    print(f"the {role} session did not survive the run (GET /auth/me: {response.status})")
    return 1


async def run_schemathesis(port: int, role: str, token: str, args: argparse.Namespace) -> int:
    st = Path(sys.executable).with_name("st")
    command = [str(st), "--config-file", str(CONFIG), "run",
               f"http://127.0.0.1:{port}/api/v1/openapi.json",
               "-H", f"Authorization: Bearer {token}", "--checks", "all",
               "--include-path-regex", "^/api/v1/",
               "--exclude-path-regex", "^/api/v1/auth/logout$",
               "--max-examples", str(args.max_examples), "--max-time", str(args.max_time),
               "--workers", "1", "--seed", str(args.seed), "--no-color",
               "--generation-database", ":memory:",
               "--phases", "examples,coverage,fuzzing"]
    process = await asyncio.create_subprocess_exec(  # in a scratch dir: st leaves a cache
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        cwd=tempfile.gettempdir())
    output, _ = await process.communicate()
    text = output.decode(errors="replace").replace(token, "<token>")
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / f"fuzz-openapi-{role}.txt").write_text(text)
    print(f"--- as {role} ---\n{text}")
    return process.returncode or 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=15)
    parser.add_argument("--max-time", type=int, default=120)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--role", choices=ROLES, action="append",
                        help="run as this role only (repeatable; default: every role)")
    return asyncio.run(fuzz(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
