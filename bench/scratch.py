"""What the standalone benches share: a database of their own for the run (created,
migrated, dropped whatever happens), the one project they measure with its project
manager, the machine line of their report, and waiting for the app's change leader."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from bench.search_latency import admin_exec, machine
from cli.embedded import with_database
from db.migrate import upgrade_async


@asynccontextmanager
async def scratch_database(admin_dsn: str, purpose: str) -> AsyncIterator[str]:
    """A migrated database `fpm_bench_<purpose>_<random>` for the block: its DSN."""
    name = f"fpm_bench_{purpose}_{secrets.token_hex(4)}"
    await admin_exec(admin_dsn, f'CREATE DATABASE "{name}"')
    try:
        dsn = with_database(admin_dsn, name)
        await upgrade_async(dsn)
        yield dsn
    finally:
        await admin_exec(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def machine_line(at_start: Mapping[str, Any]) -> str:
    """The report's machine line: cores, CPU, RAM and the load at the start and now."""
    return (f"\n- machine: {at_start['nproc']} cores, {at_start['cpu']}, {at_start['ram']} RAM; "
            f"load at start / end: {at_start['load']} / {machine()['load']}")


async def project_with_manager(conn: asyncpg.Connection
                               ) -> tuple[uuid.UUID, dict[str, Any], uuid.UUID]:
    """An organisation, its project manager (who cannot sign in: sessions are started
    directly) and one project with them as member: (org id, user, project id)."""
    org: uuid.UUID = await conn.fetchval(
        "INSERT INTO organizations (name, slug) VALUES ('Bench', $1) RETURNING id",
        f"bench-{secrets.token_hex(3)}")
    user = dict(await conn.fetchrow(
        """INSERT INTO users (org_id, email, password_hash, first_name, last_name, role)
           VALUES ($1, 'pm@bench.test', 'x', 'Pat', 'Manager', 'project_manager')
           RETURNING *""", org))
    project: uuid.UUID = await conn.fetchval(
        "INSERT INTO projects (org_id, name, type) VALUES ($1, 'Bench', 'fit_out') "
        "RETURNING id", org)
    await conn.execute("INSERT INTO project_members (org_id, project_id, user_id, role) "
                       "VALUES ($1, $2, $3, 'project_manager')", org, project, user["id"])
    return org, user, project


async def caught_up(pool: asyncpg.Pool, limit: float = 120.0) -> None:
    """Until the change leader has read every audit row (its saved cursor at the last): an
    in-process app's leader reads (and chains) what the set-up inserted when it starts, and
    measured meanwhile, that work would be the measured request's tail."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        behind = await pool.fetchval(
            """SELECT count(*) FROM audit_logs a, realtime_cursor c
               WHERE (a.txid, a.id) > (c.horizon, c.last_id)""")
        if behind == 0:
            return
        await asyncio.sleep(0.5)
    raise RuntimeError("the change leader did not catch up")
