"""The change leader on its own, against the real database: emits, cursor, doorbell, stall."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest

from db.pool import Actor, transaction
from db.queries import changes as q
from realtime.feed.events import Event
from realtime.feed.leader import LOCK_KEY, Leader, LeaderConfig, RowRate
from tests.conftest import World, actor_of
from tests.waiting import eventually


class Captured:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.invalidated: list[int] = []

    async def emit(self, events: list[Event]) -> None:
        self.events.extend(events)

    async def invalidate(self, events: list[Event]) -> None:
        self.invalidated.extend(e.audit_id for e in events)

    def names(self, prefix: str = "") -> list[str]:
        return [e.payload["data"]["name"] for e in self.events
                if e.name == "task.created" and e.payload["data"]["name"].startswith(prefix)]


@pytest.fixture
async def run_leader(database_url: str, pool: asyncpg.Pool
                     ) -> AsyncIterator[Callable[..., Any]]:
    tasks: list[asyncio.Task[None]] = []

    async def start(**config: Any) -> tuple[Leader, Captured]:
        captured = Captured()
        leader = Leader(LeaderConfig(dsn=database_url, **config), captured.emit,
                        captured.invalidate)
        tasks.append(asyncio.create_task(leader.run()))
        return leader, captured

    yield start
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def setup_project(world: World) -> tuple[dict[str, Any], Any]:
    org = await world.org()
    admin = await world.user(org, "admin")
    return admin, await world.project(org)


async def write(pool: asyncpg.Pool, actor: Actor, org: Any, project: Any, *names: str) -> None:
    async with transaction(pool, actor) as conn:
        for name in names:
            await conn.execute("INSERT INTO tasks (org_id, project_id, name) VALUES ($1, $2, $3)",
                               org, project, name)


async def flag(pool: asyncpg.Pool) -> bool:
    return bool(await pool.fetchval("SELECT listener_awake FROM realtime_state"))


async def asleep(pool: asyncpg.Pool) -> bool:
    return not await flag(pool)


async def test_backlog_in_pages_then_doorbell_sleep_and_wake(
        run_leader: Callable[..., Any], world: World, pool: asyncpg.Pool) -> None:
    admin, project = await setup_project(world)
    await write(pool, actor_of(admin), admin["org_id"], project,
                *(f"backlog {i:02}" for i in range(23)))
    leader, captured = await run_leader(batch=5, idle_poll=5.0)
    await eventually(lambda: len(captured.names("backlog")) == 23, limit=5, interval=0.02)
    assert captured.names("backlog") == [f"backlog {i:02}" for i in range(23)]
    assert set(captured.invalidated) >= {e.audit_id for e in captured.events}
    await eventually(lambda: leader.role == "leader", limit=5, interval=0.02)
    # Idle: the leader went to sleep, so writers ring the doorbell again.
    await eventually(lambda: asleep(pool), limit=5, interval=0.05)
    await write(pool, actor_of(admin), admin["org_id"], project, "rung")
    # before the 5 s poll
    await eventually(lambda: "rung" in captured.names(), limit=4.5, interval=0.02)
    status = await leader.status(pool)
    assert status["role"] == "leader" and status["listener_connected"]
    assert status["lag_events"] == 0 and status["status"] == "healthy"


async def test_new_leader_continues_from_the_durable_cursor(
        run_leader: Callable[..., Any], world: World, pool: asyncpg.Pool) -> None:
    admin, project = await setup_project(world)
    first, seen = await run_leader()
    await write(pool, actor_of(admin), admin["org_id"], project, "one")
    await eventually(lambda: "one" in seen.names(), limit=5, interval=0.02)
    await eventually(lambda: first.horizon > 0, limit=5, interval=0.02)
    await asyncio.sleep(0.1)
    cursor = await pool.fetchrow("SELECT horizon::text::bigint AS h, leader FROM realtime_cursor")
    assert cursor["h"] > 0 and cursor["leader"] == first.config.name


async def test_poll_mode_keeps_the_flag_up(run_leader: Callable[..., Any], world: World,
                                           pool: asyncpg.Pool) -> None:
    admin, project = await setup_project(world)
    leader, captured = await run_leader(mode="poll")
    await eventually(lambda: leader.role == "leader", limit=5, interval=0.02)
    await write(pool, actor_of(admin), admin["org_id"], project, "polled")
    await eventually(lambda: "polled" in captured.names(), limit=5, interval=0.02)
    assert await flag(pool)


async def test_follower_unseats_a_stalled_leader(run_leader: Callable[..., Any],
                                                 world: World, pool: asyncpg.Pool,
                                                 database_url: str) -> None:
    admin, project = await setup_project(world)
    stalled = await asyncpg.connect(database_url)
    try:
        assert await stalled.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY)
        await pool.execute("UPDATE realtime_cursor SET updated_at = now() - interval '1 hour'")
        await write(pool, actor_of(admin), admin["org_id"], project, "waiting")
        leader, captured = await run_leader(stall_after=0.6, retry=0.1)
        await eventually(lambda: "waiting" in captured.names(), limit=5, interval=0.02)
        assert leader.role == "leader"
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
            await stalled.fetchval("SELECT 1")
    finally:
        stalled.terminate()


def test_row_rate_counts_the_recent_window_only() -> None:
    rate = RowRate(window=0.5)
    assert rate.add(5, 0.0) == 10
    assert rate.add(5, 0.4) == 20
    assert rate.add(0, 1.0) == 0


async def test_moderate_writes_ring_and_the_leader_never_polls(
        run_leader: Callable[..., Any], world: World, pool: asyncpg.Pool) -> None:
    admin, project = await setup_project(world)
    # The safety-net poll every 10 s: an event sooner than that came by the doorbell (a
    # margin that holds on a loaded machine, where 0.9 s against a 1 s poll did not, and
    # 4.5 s against 5 s once did not either).
    leader, captured = await run_leader(awake_rate=1e9, idle_poll=10.0)
    await eventually(lambda: leader.role == "leader" and not leader.awake, limit=5, interval=0.02)
    for n in range(5):
        name = f"rung {n}"
        await write(pool, actor_of(admin), admin["org_id"], project, name)
        # before a poll
        await eventually(lambda name=name: name in captured.names(), limit=9.5, interval=0.02)
        assert not leader.awake and not await flag(pool)


async def test_a_burst_keeps_the_leader_awake_then_it_sleeps(
        run_leader: Callable[..., Any], world: World, pool: asyncpg.Pool) -> None:
    admin, project = await setup_project(world)
    # Awake above 5 rows/s: 150 writes one after the other stay above that even on a loaded
    # machine (at 20 rows/s a slow run never woke the leader). Awake, it polls every 50 ms:
    # at the default 5 ms a loaded machine's writer left polls empty between two writes, the
    # flag went down again within a millisecond or two, and the watcher missed every time.
    leader, captured = await run_leader(awake_rate=5, idle_poll=5.0, busy_poll=0.05)
    await eventually(lambda: leader.role == "leader" and not leader.awake, limit=5, interval=0.02)
    done = asyncio.Event()
    seen_awake = False

    async def watch() -> None:  # the flag, sampled all through the burst, not after writes
        nonlocal seen_awake
        while not done.is_set() and not seen_awake:
            seen_awake = leader.awake and await flag(pool)
            await asyncio.sleep(0.001)

    watcher = asyncio.create_task(watch())
    for n in range(150):
        await write(pool, actor_of(admin), admin["org_id"], project, f"burst {n:03}")
    done.set()
    await watcher
    assert seen_awake  # the flag was up while writers wrote: they skipped the doorbell
    await eventually(lambda: len(captured.names("burst")) == 150, limit=5, interval=0.02)
    assert captured.names("burst") == [f"burst {n:03}" for n in range(150)]
    await eventually(lambda: not leader.awake, limit=5, interval=0.02)
    assert not await flag(pool)
    await write(pool, actor_of(admin), admin["org_id"], project, "after")
    # asleep again: it rang
    await eventually(lambda: "after" in captured.names(), limit=4.5, interval=0.02)


async def test_the_leaders_connection_plans_its_read_once(database_url: str) -> None:
    """The feed's read is planned once per connection, not at every poll (0.5 ms of planning
    for 0.1 ms of work, growing with the audit partitions)."""
    conn = await Leader(LeaderConfig(dsn=database_url), Captured().emit)._connect()
    try:
        horizon = await conn.fetchval("SELECT pg_snapshot_xmax(pg_current_snapshot())::text")
        for _ in range(8):
            await q.unread_with_snapshot(conn, [], int(horizon), 100)
        plans = await conn.fetchrow(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement = $1", q.UNREAD_WITH_SNAPSHOT)
    finally:
        await conn.close()
    assert plans is not None and plans["custom_plans"] == 0 and plans["generic_plans"] >= 8


async def test_unread_rows_are_an_index_range_not_a_scan_of_the_log(
        pool: asyncpg.Pool, world: World) -> None:
    """The leader's read starts at the oldest unread txid: its cost follows the backlog, not
    the size of the audit log. Checked on the plan a large log gets (an ordered walk of the
    txid index, which on a small table the planner would not pick by itself)."""
    admin, project = await setup_project(world)
    for batch in range(20):  # 20 transactions already read
        await write(pool, actor_of(admin), admin["org_id"], project,
                    *(f"old {batch}.{i}" for i in range(10)))
    async with pool.acquire() as conn:
        await conn.execute("ANALYZE audit_logs")
        horizon = await conn.fetchval("SELECT pg_snapshot_xmax(pg_current_snapshot())::text")
        await conn.execute("SET enable_bitmapscan = off; SET enable_seqscan = off")
        try:
            stmt = await conn.prepare(f"EXPLAIN (ANALYZE, COSTS OFF) {q.UNREAD_WITH_SNAPSHOT}")
            plan = "\n".join(r[0] for r in await stmt.fetch([], horizon, 501))
        finally:
            await conn.execute("RESET enable_bitmapscan; RESET enable_seqscan")
    assert "Index Cond: (txid >= LEAST(" in plan, plan
    assert "Rows Removed by Filter" not in plan, plan  # the 200 rows already read: not visited
