"""The audit log's hash chain against the real database: the leader extends it in (txid, id)
order below the horizon, `verify` finds a rewritten row, a deleted row and a cut-off tail,
and the chain stays whole across a leader restart mid-stream."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from cli.audit_verify import Report, verify
from db.pool import transaction
from db.queries.events import record_event
from realtime.feed.leader import Leader, LeaderConfig
from tests.conftest import World, actor_of
from tests.waiting import eventually


async def _nothing(events: list[Any]) -> None:
    pass


@pytest.fixture
async def run_leader(database_url: str, pool: asyncpg.Pool, tmp_path: Path
                     ) -> AsyncIterator[Callable[..., Any]]:
    tasks: list[asyncio.Task[None]] = []

    async def start(**config: Any) -> tuple[Leader, asyncio.Task[None]]:
        config = {"chain_every": 0.0, "heads_dir": tmp_path / "heads", **config}
        leader = Leader(LeaderConfig(dsn=database_url, **config), _nothing)
        task = asyncio.create_task(leader.run())
        tasks.append(task)
        return leader, task

    yield start
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def write(pool: asyncpg.Pool, admin: dict[str, Any], project: uuid.UUID,
                *names: str) -> None:
    async with transaction(pool, actor_of(admin)) as conn:
        for name in names:
            await conn.execute("INSERT INTO tasks (org_id, project_id, name) VALUES ($1, $2, $3)",
                               admin["org_id"], project, name)


async def all_chained(pool: asyncpg.Pool) -> bool:
    row = await pool.fetchrow(
        "SELECT (SELECT count(*) FROM audit_logs) AS rows, "
        "(SELECT count(*) FROM audit_chain_links) AS links")
    return bool(row["rows"] == row["links"])


async def check(database_url: str, heads: Path | None = None, **kw: Any) -> Report:
    conn = await asyncpg.connect(database_url)
    try:
        return await verify(conn, heads_dir=heads, **kw)
    finally:
        await conn.close()


async def two_orgs(world: World) -> list[tuple[dict[str, Any], uuid.UUID]]:
    found = []
    for _ in range(2):
        org = await world.org()
        admin = await world.user(org, "admin")
        found.append((admin, await world.project(org)))
    return found


async def test_every_row_is_chained_in_txid_id_order_and_verifies(
        run_leader: Callable[..., Any], world: World, pool: asyncpg.Pool,
        database_url: str) -> None:
    orgs = await two_orgs(world)
    for admin, project in orgs:
        await write(pool, admin, project, *(f"task {i}" for i in range(5)))
    async with pool.acquire() as conn:
        await record_event(conn, "backup_completed", {"file": "x"})
    await run_leader(batch=3)
    await eventually(lambda: all_chained(pool), limit=10, interval=0.05)
    report = await check(database_url)
    assert report.intact and report.links >= 2 * 5 + 2 and report.chains == 3
    # Each chain's links follow the (txid, id) order of its rows, with no gap.
    rows = await pool.fetch(
        """SELECT l.chain, l.seq, row_number() OVER (PARTITION BY l.chain
                  ORDER BY a.txid, a.id) AS expected
           FROM audit_chain_links l JOIN audit_logs a ON a.id = l.audit_id""")
    assert all(r["seq"] == r["expected"] for r in rows)
    slug = await pool.fetchval("SELECT slug FROM organizations WHERE id = $1",
                               orgs[0][0]["org_id"])
    one = await check(database_url, org=slug)
    assert one.intact and one.chains == 1
    assert (await check(database_url, org="service")).chains == 1


async def _chained_world(run_leader: Callable[..., Any], world: World,
                         pool: asyncpg.Pool) -> tuple[dict[str, Any], asyncio.Task[None]]:
    (admin, project), _ = await two_orgs(world)
    await write(pool, admin, project, *(f"task {i}" for i in range(6)))
    _, task = await run_leader(head_every=0.0)
    await eventually(lambda: all_chained(pool), limit=10, interval=0.05)
    await write(pool, admin, project, "late one", "late two")
    await eventually(lambda: all_chained(pool), limit=10, interval=0.05)
    await stop(task)
    return admin, task


async def _task_row(pool: asyncpg.Pool, name: str) -> int:
    found: int = await pool.fetchval(
        "SELECT id FROM audit_logs WHERE table_name = 'tasks' AND new_values->>'name' = $1",
        name)
    return found


async def test_a_superuser_rewrite_of_new_values_is_found(
        run_leader: Callable[..., Any], world: World, pool: asyncpg.Pool,
        database_url: str, tmp_path: Path) -> None:
    await _chained_world(run_leader, world, pool)
    assert (await check(database_url, tmp_path / "heads")).intact
    target = await _task_row(pool, "task 3")
    await pool.execute("""UPDATE audit_logs SET new_values = jsonb_set(new_values, '{name}',
                          '"task three"') WHERE id = $1""", target)
    report = await check(database_url, tmp_path / "heads")
    assert not report.intact
    assert report.breaks[0].audit_id == target
    assert "differs" in report.breaks[0].reason


async def test_a_deleted_row_is_found(run_leader: Callable[..., Any], world: World,
                                      pool: asyncpg.Pool, database_url: str,
                                      tmp_path: Path) -> None:
    await _chained_world(run_leader, world, pool)
    target = await _task_row(pool, "task 2")
    await pool.execute("DELETE FROM audit_logs WHERE id = $1", target)
    report = await check(database_url, tmp_path / "heads")
    assert [b.audit_id for b in report.breaks] == [target]
    assert "gone" in report.breaks[0].reason
    # Deleting its link too leaves a gap; renumbering the rest breaks the next hash.
    await pool.execute("DELETE FROM audit_chain_links WHERE audit_id = $1", target)
    report = await check(database_url, tmp_path / "heads")
    assert "link missing" in report.breaks[0].reason


async def test_a_cut_off_tail_is_found_even_with_links_and_head_rolled_back(
        run_leader: Callable[..., Any], world: World, pool: asyncpg.Pool,
        database_url: str, tmp_path: Path) -> None:
    admin, _ = await _chained_world(run_leader, world, pool)
    chain = str(admin["org_id"])
    published = await pool.fetchval(
        "SELECT published_seq FROM audit_chain_heads WHERE chain = $1", chain)
    assert published and list((tmp_path / "heads").glob("heads-*.jsonl"))
    # Rows only: their links now name rows that are gone.
    last = await pool.fetchval("SELECT max(audit_id) FROM audit_chain_links WHERE chain = $1",
                               chain)
    await pool.execute("DELETE FROM audit_logs WHERE id >= $1 AND org_id = $2", last,
                       admin["org_id"])
    assert not (await check(database_url, tmp_path / "heads")).intact
    # Someone thorough: the tail's rows, links and head rolled back to a consistent state.
    keep = published - 2
    cut = await pool.fetch("SELECT audit_id FROM audit_chain_links WHERE chain = $1 AND "
                           "seq > $2", chain, keep)
    ids = [r["audit_id"] for r in cut]
    head = await pool.fetchrow("SELECT l.hash, a.txid, a.id FROM audit_chain_links l "
                               "JOIN audit_logs a ON a.id = l.audit_id "
                               "WHERE l.chain = $1 AND l.seq = $2", chain, keep)
    await pool.execute("DELETE FROM audit_logs WHERE id = ANY ($1)", ids)
    await pool.execute("DELETE FROM audit_chain_links WHERE audit_id = ANY ($1)", ids)
    await pool.execute("UPDATE audit_chain_heads SET seq = $2, hash = $3, last_txid = $4, "
                       "last_id = $5 WHERE chain = $1", chain, keep, head["hash"],
                       head["txid"], head["id"])
    # The database alone cannot tell (its own head events were in the tail) ...
    assert (await check(database_url, tmp_path / "elsewhere", org=None)).intact
    # ... the heads published to the files can.
    report = await check(database_url, tmp_path / "heads")
    assert not report.intact
    assert "past the chain's end" in report.breaks[0].reason


async def test_the_chain_stays_whole_across_a_leader_restart_mid_stream(
        run_leader: Callable[..., Any], world: World, pool: asyncpg.Pool,
        database_url: str) -> None:
    orgs = await two_orgs(world)
    done = asyncio.Event()

    async def writer() -> None:
        for i in range(120):
            admin, project = orgs[i % 2]
            await write(pool, admin, project, f"stream {i}")
            await asyncio.sleep(0.005)
        done.set()

    writing = asyncio.create_task(writer())
    first, task = await run_leader(mode="poll", retry=0.1)
    await eventually(lambda: first.chainer.stats.linked > 20, limit=10, interval=0.01)
    # The backend dies under the leader (as on a SIGKILL of its worker), then it is gone.
    await pool.execute("SELECT pg_terminate_backend($1)", first.backend_pid)
    await asyncio.sleep(0.2)
    await stop(task)
    second, _ = await run_leader(mode="poll", retry=0.1, name="second")
    await writing
    await eventually(lambda: all_chained(pool), limit=15, interval=0.05)
    assert second.chainer.stats.linked > 0
    report = await check(database_url)
    assert report.intact, [b.describe() for b in report.breaks]
    assert report.links == await pool.fetchval("SELECT count(*) FROM audit_logs")
