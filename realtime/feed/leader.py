"""The change leader: exactly one per deployment reads the audit log and emits the events.

Every worker runs a `Leader`; the one whose dedicated connection holds the advisory lock
leads, the others retry every second. NOTIFY is only a doorbell: the leader always reads
the audit log after its position, so a lost notification, a listener reconnect or a
fail-over loses nothing.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from db.admin_sql import act_as_system
from db.cancellation import stop_if_cancelled
from db.cursor_codec import encode_feed_cursor
from db.pool import system_transaction
from db.queries import changes as q
from db.queries.events import record_event
from realtime.feed.chain import Chainer
from realtime.feed.cursor import ReadPosition, Snapshot
from realtime.feed.partitions import PartitionKeeper
from realtime.feed.rows import BeforeEmit, Emit, Feed, ObserveLag, nothing_first

log = logging.getLogger("formula_pm.realtime.leader")

LOCK_KEY = 0x46504D01  # "FPM" 1: the change-leader advisory lock (per database)
CHANNEL = "formula_pm_changes"
APPLICATION_NAME = "formula-pm-leader"
ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
CHAIN_RETRY = 5.0  # seconds before the chain is tried again after a database error


def default_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class LeaderConfig:
    dsn: str
    mode: str = "notify"  # or "poll": no doorbell at all, poll every `busy_poll`
    idle_poll: float = 1.0  # the safety net while asleep (and the heartbeat pace)
    busy_poll: float = 0.005  # while awake, and in poll mode
    # Rows per second above which the leader stays awake and writers skip NOTIFY. Below it
    # every commit rings, and the leader drains at once: NOTIFY's commit lock only costs
    # throughput at thousands of writes per second, and polling would cost latency.
    awake_rate: float = 1000.0
    retry: float = 1.0  # how often a follower tries the lock
    # A leader silent this long while rows wait is terminated by a follower; each statement
    # of the leader's own connection (its heartbeat included, at least every `idle_poll`)
    # must answer within half of it, or the leader drops that connection as stalled.
    stall_after: float = 15.0
    heartbeat: float = 2.0
    # The durable cursor is written at most this often while events flow (one round trip
    # saved per drain); a new leader replays at most this much (clients dedupe by id).
    save_every: float = 0.25
    batch: int = 500
    command_timeout: float = 10.0
    # The audit log's hash chain (realtime/feed/chain.py): extended at most this often, off
    # the write path; its heads published every `head_every` seconds (also to `heads_dir`).
    chain: bool = True
    chain_every: float = 0.2
    heads_dir: Path | None = None
    head_every: float = 3600.0
    # The audit log's monthly partitions (realtime/feed/partitions.py): created
    # `partitions_ahead` months ahead and, with `retention_months`, the older ones exported
    # to `export_dir` (when set) and dropped; looked after every `partitions_every` seconds.
    partitions: bool = True
    partitions_ahead: int = 2
    partitions_every: float = 3600.0
    retention_months: int | None = None
    export_dir: Path | None = None
    name: str = field(default_factory=default_name)


class RowRate:
    """Rows drained per second over the last `window` seconds (what wakes the leader up)."""

    def __init__(self, window: float = 0.5) -> None:
        self.window = window
        self.recent: collections.deque[tuple[float, int]] = collections.deque()
        self.total = 0

    def add(self, rows: int, now: float) -> float:
        self.recent.append((now, rows))
        self.total += rows
        while self.recent and self.recent[0][0] < now - self.window:
            self.total -= self.recent.popleft()[1]
        return self.total / self.window


def _keepalive(conn: asyncpg.Connection) -> None:
    """Client-side TCP keepalives, so a silently dead server is noticed (TCP only)."""
    sock = conn._transport.get_extra_info("socket") if conn._transport else None
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", 5), ("TCP_KEEPINTVL", 2), ("TCP_KEEPCNT", 3)):
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)


class Leader:
    """Campaign for the lock; while leading, drain the feed and ring-or-poll."""

    def __init__(self, config: LeaderConfig, emit: Emit,
                 before_emit: BeforeEmit = nothing_first,
                 observe_lag: ObserveLag | None = None) -> None:
        self.config = config
        self.feed = Feed(emit, before_emit, config.batch, observe_lag)
        self.chainer = Chainer(heads_dir=config.heads_dir, head_every=config.head_every)
        self.partitions = PartitionKeeper(config.partitions_ahead, config.retention_months,
                                          config.export_dir, config.partitions_every)
        self.role = "follower"
        self.connected = False
        self.position: ReadPosition | None = None
        self.horizon = 0
        self.awake = False  # polling with the flag up (writers skip the doorbell)
        self._saved = (0, 0.0)
        self.backend_pid: int | None = None
        self._backend_start: Any = None
        # (pid, backend_start) of our own backend left behind on a stalled connection: it
        # may still hold the lock, and only we know it is dead. Ended on the next connection.
        self._abandoned: tuple[int, Any] | None = None
        self._keeping: asyncio.Task[None] | None = None  # the partitions' upkeep, if running

    @property
    def probe_timeout(self) -> float:
        """How long any statement of the leader's connection may take before the connection
        counts as stalled (a blocked link is not closed, so only an answer proves life)."""
        return min(self.config.command_timeout, self.config.stall_after / 2)

    async def run(self) -> None:
        """Forever: connect, wait for the lock, lead until the connection fails (until
        cancelled, even through an asyncpg timeout: `db.cancellation`)."""
        while True:
            stop_if_cancelled()
            try:
                await self._term()
            except ERRORS as exc:
                log.warning("change listener connection lost: %s", exc)
            except Exception:  # e.g. asyncpg protocol errors after a killed backend
                log.exception("change listener failed; reconnecting")
            self.role, self.connected = "follower", False
            await asyncio.sleep(self.config.retry)

    async def _connect(self) -> asyncpg.Connection:
        # Generic plans: the feed's read runs every few milliseconds while awake, and planned
        # afresh for its parameters it cost 0.5 ms of planning a poll (more with every monthly
        # audit partition) for 0.1 ms of work. Its generic plan is the ordered walk of each
        # partition's txid index under the LIMIT, whatever the parameters; so are the chain's.
        conn = await asyncpg.connect(
            self.config.dsn, command_timeout=self.probe_timeout,
            timeout=max(2.0, self.probe_timeout), server_settings={
                "application_name": APPLICATION_NAME, "tcp_keepalives_idle": "5",
                "tcp_keepalives_interval": "2", "tcp_keepalives_count": "3",
                "idle_in_transaction_session_timeout": "60000",
                "plan_cache_mode": "force_generic_plan"})
        _keepalive(conn)
        return conn

    async def _term(self) -> None:
        conn = await self._connect()
        self.connected = True
        self.backend_pid = conn.get_server_pid()
        stalled = False
        try:
            self._backend_start = await q.backend_start(conn)
            await self._end_abandoned(conn)
            await self._wait_for_lock(conn)
            await self._lead(conn)
        except TimeoutError:
            stalled = True  # no answer in time: the link is blocked (or the server is)
            raise
        finally:
            self.role, self.connected = "follower", False
            if self._keeping is not None and not self._keeping.done():
                self._keeping.cancel()
            if stalled:
                log.warning("change listener connection stalled; abandoning backend %s",
                            self.backend_pid)
                self._abandoned = (conn.get_server_pid(), self._backend_start)
                conn.terminate()
            else:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2):
                        await conn.close()
                if not conn.is_closed():
                    conn.terminate()

    async def _end_abandoned(self, conn: asyncpg.Connection) -> None:
        """Terminate our backend left on a stalled connection (it holds the lock until the
        server notices, which a blocked-but-open link may delay for ever)."""
        if self._abandoned is None or self._abandoned[1] is None:
            self._abandoned = None
            return
        pid, started = self._abandoned
        ended = await q.terminate_own(conn, pid, started, APPLICATION_NAME)
        self._abandoned = None
        if ended:
            log.warning("terminated our own stalled change leader backend %s", pid)

    async def _wait_for_lock(self, conn: asyncpg.Connection) -> None:
        checked = time.monotonic()
        while not await q.try_lock(conn, LOCK_KEY):
            if time.monotonic() - checked >= self.config.stall_after / 3:
                checked = time.monotonic()
                await self._unseat_stalled(conn)
            await asyncio.sleep(self.config.retry)

    async def _unseat_stalled(self, conn: asyncpg.Connection) -> None:
        pid = await q.stalled_holder(conn, LOCK_KEY, self.config.stall_after)
        if pid is not None and await q.terminate(conn, pid):
            log.warning("terminated stalled change leader backend %s", pid)

    async def _lead(self, conn: asyncpg.Connection) -> None:
        await act_as_system(conn)
        wake = asyncio.Event()
        await conn.add_listener(CHANNEL, lambda *_: wake.set())
        cursor = await q.read_cursor(conn)
        if self.position is None or cursor["leader"] != self.config.name:
            self.position = ReadPosition.from_horizon(cursor["horizon"])
        previous = cursor["leader"]
        self.role = "leader"
        await q.save_cursor(conn, cursor["horizon"], cursor["last_id"], self.config.name)
        await record_event(conn, "leader_changed", {"leader": self.config.name,
                                                    "previous": previous})
        log.info("became change leader", extra={"leader": self.config.name,
                                                 "previous": previous})
        if self.config.mode == "poll":
            await self._poll_forever(conn)
        else:
            await self._doorbell_loop(conn, wake)

    async def _drain(self, conn: asyncpg.Connection) -> tuple[Snapshot, int]:
        assert self.position is not None
        before = self.feed.stats.rows
        snapshot = await self.feed.drain(conn, self.position)
        self.position = self.position.after(snapshot)
        await self._save(conn, snapshot.xmin)
        await self._chain(conn)
        await self._partitions(conn)
        return snapshot, self.feed.stats.rows - before

    async def _chain(self, conn: asyncpg.Connection) -> None:
        """Extend the audit chain over the rows now below the horizon (not every drain:
        at most every `chain_every`), and publish the heads when due."""
        chainer = self.chainer
        if not self.config.chain or (
                time.monotonic() - chainer.stats.extended_at < self.config.chain_every):
            return
        try:
            await chainer.extend(conn)
            if chainer.head_due():
                await chainer.publish_heads(conn)
        except asyncpg.PostgresError:  # the feed goes on; the chain catches up next time
            chainer.stats.extended_at = time.monotonic() + CHAIN_RETRY
            log.exception("extending the audit chain failed")

    async def _partitions(self, conn: asyncpg.Connection) -> None:
        """Keep the audit log's partitions when due (every `partitions_every`, and first on
        becoming leader), on a connection of its own: an export of a month or a lock on
        the table never holds up the feed or its heartbeat."""
        keeper = self.partitions
        if not self.config.partitions or not keeper.due() or (
                self._keeping is not None and not self._keeping.done()):
            return
        keeper.stats.kept_at = time.monotonic()
        self._keeping = asyncio.create_task(self._keep_partitions())

    async def _keep_partitions(self) -> None:
        try:
            conn = await asyncpg.connect(self.config.dsn, server_settings={
                "application_name": f"{APPLICATION_NAME}-partitions"})
            try:
                await act_as_system(conn)
                await self.partitions.keep(conn)
            finally:
                await conn.close()
        except ERRORS:  # tried again next time; the feed goes on
            log.exception("keeping the audit partitions failed")

    async def _save(self, conn: asyncpg.Connection, horizon: int) -> None:
        """Advance the durable cursor to the horizon (every row below it is out), and
        beat the heart while nothing changes."""
        self.horizon = max(self.horizon, horizon)
        last, at = self._saved
        since = time.monotonic() - at
        if (since >= self.config.save_every and self.horizon != last) or (
                since >= self.config.heartbeat):
            await q.save_cursor(conn, self.horizon, self.feed.stats.last_id, self.config.name)
            self._saved = (self.horizon, time.monotonic())

    async def _poll_forever(self, conn: asyncpg.Connection) -> None:
        await q.set_awake(conn, True)
        while True:
            await self._drain(conn)
            await asyncio.sleep(self.config.busy_poll)

    async def _doorbell_loop(self, conn: asyncpg.Connection, wake: asyncio.Event) -> None:
        """Asleep, every commit rings and is drained at once; under a write rate above
        `awake_rate` the leader stays awake and polls, and writers skip the doorbell."""
        await self._stay_awake(conn, wake)  # the backlog of the previous term, if any
        rate = RowRate()
        while True:
            wake.clear()  # before the drain: a commit during it rings again
            _, found = await self._drain(conn)
            if rate.add(found, time.monotonic()) >= self.config.awake_rate:
                await self._stay_awake(conn, wake)
                rate = RowRate()
                continue
            while not wake.is_set():
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel
                # that races its timeout, leaving the leader running after shutdown.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.config.idle_poll):
                        await wake.wait()
                if not wake.is_set():
                    await self._drain(conn)  # the safety net, and the heartbeat

    async def _stay_awake(self, conn: asyncpg.Connection, wake: asyncio.Event) -> None:
        """Raise the flag and poll until a poll finds nothing, then lower it and settle."""
        await q.set_awake(conn, True)
        self.awake = True
        try:
            while True:
                _, found = await self._drain(conn)
                if not found:
                    break
                await asyncio.sleep(self.config.busy_poll)
            wake.clear()
            await q.set_awake(conn, False)
        finally:
            self.awake = False
        await self._settle(conn)

    async def _settle(self, conn: asyncpg.Connection) -> None:
        """After clearing the flag, drain until every transaction that was running then
        has finished: one of them may have read "awake" and skipped the doorbell."""
        watch: set[int] | None = None
        delay = self.config.busy_poll
        while True:
            snapshot, _ = await self._drain(conn)
            running = set(snapshot.xip)
            watch = running if watch is None else watch & running
            if not watch:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)

    def describe(self) -> dict[str, Any]:
        stats = self.feed.stats
        return {
            "role": self.role, "listener_connected": self.connected,
            "backend_pid": self.backend_pid,
            "mode": self.config.mode, "awake": self.awake or self.config.mode == "poll",
            "name": self.config.name,
            "events_emitted": stats.emitted, "last_id": stats.last_id,
            "audit_rows_chained": self.chainer.stats.linked,
            "audit_partitions_dropped": self.partitions.stats.dropped,
            "seconds_since_drain": round(time.monotonic() - stats.drained_at, 3),
        }

    async def status(self, pool: asyncpg.Pool) -> dict[str, Any]:
        """The realtime part of /health/ready: role, listener, cursor and lag."""
        async with system_transaction(pool) as conn:
            durable = await q.read_cursor(conn)
            if self.role == "leader" and self.position is not None:
                waiting = await q.pending(conn, list(self.position.xip), self.position.xmax)
            else:
                waiting = await q.pending(conn, [], durable["horizon"])
        leader_alive = self.role == "leader" or durable["age"] < self.config.stall_after
        lag_seconds = round(float(waiting["seconds"]), 3)
        healthy = leader_alive and (self.connected or self.role == "follower") and (
            lag_seconds < 30)
        return {
            "status": "healthy" if healthy else "degraded",
            **self.describe(),
            "leader": durable["leader"],
            "cursor": encode_feed_cursor((max(self.horizon, durable["horizon"]), 0)),
            "lag_events": int(waiting["events"]),
            "lag_seconds": lag_seconds,
        }
