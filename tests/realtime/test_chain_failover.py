"""The audit chain across a leader failover: the leading worker is SIGKILLed while 200
writes per second go on; the follower takes over and the chain ends up whole."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from cli.audit_verify import verify
from db.pool import transaction
from tests.conftest import World, actor_of
from tests.realtime.conftest import Workers
from tests.waiting import eventually


async def test_the_chain_is_whole_after_a_sigkill_of_the_leader_mid_stream(
        live: Workers, world: World, pool: asyncpg.Pool, database_url: str) -> None:
    org = await world.org()
    admin = await world.user(org, "admin")
    project = await world.project(org)
    leader, _ = await live.roles()
    written = 0

    async def writer(seconds: float) -> None:
        nonlocal written
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            async with transaction(pool, actor_of(admin)) as conn:
                await conn.execute(
                    "INSERT INTO tasks (org_id, project_id, name) VALUES ($1, $2, $3)",
                    org, project, f"stream {written}")
            written += 1
            await asyncio.sleep(0.005)  # about 200 writes a second

    writing = asyncio.create_task(writer(4.0))
    await asyncio.sleep(1.5)
    chained = await pool.fetchval("SELECT count(*) FROM audit_chain_links")
    leader.kill()  # SIGKILL, mid-stream
    await writing
    assert written > 300 and chained > 0

    async def whole() -> bool:
        row = await pool.fetchrow("SELECT (SELECT count(*) FROM audit_logs) AS rows, "
                                  "(SELECT count(*) FROM audit_chain_links) AS links")
        return bool(row["rows"] == row["links"])

    await eventually(whole, limit=40, interval=0.2)
    conn = await asyncpg.connect(database_url)
    try:
        report = await verify(conn)
    finally:
        await conn.close()
    assert report.intact, [b.describe() for b in report.breaks]
    assert report.links == await pool.fetchval("SELECT count(*) FROM audit_logs")
