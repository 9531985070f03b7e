"""Faults under load cost latency, never data.

One rig for the module (tests/faults/rig.py): a private embedded PostgreSQL and a private
redis-server, two `formula-pm serve` workers each behind a stalling proxy to PostgreSQL. Each
test runs the REST writer (~50 writes/s over four projects through both workers) and ~200
lean subscribed clients (six users, each a member of some projects only, spread over both
workers), injects its fault, lets the system recover by itself, then has every client resync
from its cursor and compares what each received with the audit log: 0 lost, 0 foreign.
Figures are printed (run with `-s`) and recorded in RELIABILITY.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from bench.mini_client import MiniClient
from tests.faults.crowd import Crowd, Verdict
from tests.faults.rig import STALL_AFTER, Rig
from tests.faults.writer import Writer
from tests.waiting import NotInTime, eventually

pytestmark = pytest.mark.faults
CLIENTS = 200
RATE = 50.0
REQUEST_BOUND = 12.0  # seconds: no request may take longer than this during an outage
STEADY = 3.0  # seconds of load before and after each fault


@pytest.fixture(scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    made = await asyncio.to_thread(Rig, tmp_path_factory.mktemp("faults"))
    try:
        await made.start()
        yield made
    finally:
        await made.stop()


class Run:
    """One test's load: the crowd subscribed, the writer writing, and the final check."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.since = 0
        self.crowd = Crowd(rig.people, rig.urls, rig.projects, CLIENTS)
        self.writer = Writer(rig.admin_token, list(rig.urls), rig.projects, RATE)
        self.started = 0.0

    async def __aenter__(self) -> Run:
        await self.rig.ensure()
        self.since = await self.rig.newest_audit_id()
        await self.crowd.join()
        self.started = time.monotonic()
        self.writer.start()
        await eventually(lambda: self.crowd.live_count() > 100, limit=20, interval=0.1)
        await asyncio.sleep(STEADY)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.writer.stop()
        await self.crowd.close()

    async def finish(self) -> Verdict:
        """Stop writing, let the last events arrive, resync everyone, compare."""
        await asyncio.sleep(STEADY)
        await self.writer.stop()
        audit, tasks = await self.rig.audit(self.since)
        expected = sum(len(ids) for ids in audit.values())

        def settled() -> bool:
            return self.crowd.live_count() >= expected  # a crude floor; resync does the rest

        with contextlib.suppress(NotInTime):
            await eventually(settled, limit=10, interval=0.1)
        await self.crowd.resync_all()
        verdict = self.crowd.verdict(audit, self.since)
        assert set(self.writer.created) <= tasks  # every 201 is in the database
        assert not self.writer.bad, self.writer.bad[:5]
        assert self.writer.slowest < REQUEST_BOUND, self.writer.slowest
        assert verdict.gaps == 0, verdict
        assert verdict.foreign == 0, verdict  # nothing reached a socket that could not read it
        assert verdict.lost == 0, verdict  # nothing lost
        return verdict

    def figures(self, verdict: Verdict) -> str:
        w = self.writer
        return (f"{w.ok_since(0)} writes ok in {time.monotonic() - self.started:.0f}s "
                f"(statuses {dict(sorted(w.statuses.items()))}, slowest {w.slowest:.2f}s); "
                f"{len(self.crowd.members)} clients, {verdict.expected} (client, event) pairs "
                f"expected, {verdict.live_share:.1%} live, lost {verdict.lost}, "
                f"foreign {verdict.foreign}, resync_required {verdict.resync_required}, "
                f"reconnects {verdict.reconnects}")


async def seconds_until(check: Callable[[], bool | Awaitable[bool]], limit: float, *,
                        every: float = 0.1) -> float:
    """Seconds until `check` holds (reported); fails after `limit`."""
    started = time.monotonic()
    await eventually(check, limit=limit, interval=every)
    return time.monotonic() - started


async def test_redis_restart(rig: Rig) -> None:
    async with Run(rig) as run:
        rig.redis.stop()
        down = time.monotonic()
        await asyncio.sleep(3)
        seen = run.crowd.live_count()
        rig.redis.start()
        back = time.monotonic()
        resumed = await seconds_until(lambda: run.crowd.live_count() > seen + 50, 30)
        # Both workers' sockets got the word, once per socket: not a storm.
        await eventually(lambda: all(m.resync_required for m in run.crowd.members), limit=15,
                         interval=0.1)
        verdict = await run.finish()
        counts = {m.resync_required for m in run.crowd.members}
        assert counts == {1}, counts
        assert set(run.writer.statuses) <= {200, 201}, run.writer.statuses  # REST never failed
        print(f"\nredis restart: down {back - down:.1f}s, fan-out resumed {resumed:.1f}s "
              f"after Redis returned; {run.figures(verdict)}")


async def test_leader_sigkill(rig: Rig) -> None:
    async with Run(rig) as run:
        leader, follower = await rig.roles()
        orphans = run.crowd.on(leader.url)
        assert orphans
        run.writer.urls = [follower.url]
        await asyncio.sleep(0.3)  # requests already sent to the leader may fail (status 0)
        killed = time.monotonic()
        leader.kill()

        async def took_over() -> bool:
            return (await rig.status(follower)).get("role") == "leader"

        takeover = await seconds_until(took_over, 15)
        assert takeover < 5, takeover
        moved = await seconds_until(lambda: all(m.reconnects for m in orphans), 30)
        assert all(m.url == follower.url for m in orphans)
        verdict = await run.finish()
        assert set(run.writer.statuses) <= {0, 200, 201}, run.writer.statuses
        print(f"\nleader SIGKILL: takeover {takeover:.1f}s after the kill (from /health/ready), "
              f"{len(orphans)} orphaned clients reconnected to the other worker and resynced "
              f"within {moved + takeover:.1f}s; {run.figures(verdict)}")
        assert time.monotonic() - killed > 0


async def test_postgres_restart(rig: Rig) -> None:
    async with Run(rig) as run:
        probe = run.crowd.members[0]
        stopped = time.monotonic()
        await asyncio.to_thread(rig.pg_stop)
        down = time.monotonic()
        await eventually(lambda: run.writer.statuses[503] > 0, limit=10, interval=0.1)
        # Socket events are answered (not left hanging) with `unavailable` while the
        # database is away. A new socket is refused with `unavailable`, unless everything
        # its connect needs was still cached (the session in Redis, the user's names for
        # 30 s): then it connects, and its first subscribe is answered `unavailable`.
        assert probe.client is not None
        project = sorted(probe.person.readable)[0]
        ack = (await probe.client.call("resync", {"project_id": project,
                                                  "cursor": next(iter(probe.cursors.values()))}))[0]
        assert ack["ok"] is False and ack["error"]["code"] == "unavailable", ack
        newcomer = MiniClient(run.crowd.session, rig.urls[1],
                              auth={"token": rig.people[0].token})
        try:
            await newcomer.connect()
        except ConnectionRefusedError as refused:
            assert "unavailable" in str(refused), refused
        else:
            ack = (await newcomer.call("subscribe", {"project_id": project}))[0]
            assert ack["ok"] is False and ack["error"]["code"] == "unavailable", ack
        await newcomer.close()
        await asyncio.sleep(max(0.0, 3 - (time.monotonic() - down)))
        await asyncio.to_thread(rig.pg_start)
        back = time.monotonic()
        ok_before = run.writer.ok_since(0)
        seen = run.crowd.live_count()
        writes = await seconds_until(lambda: run.writer.ok_since(ok_before) > 10, 30)
        events = await seconds_until(lambda: run.crowd.live_count() > seen + 50, 30)
        verdict = await run.finish()
        assert run.writer.statuses[503] > 0
        assert set(run.writer.statuses) <= {200, 201, 503}, run.writer.statuses  # never a 500
        print(f"\npostgres restart: down {back - stopped:.1f}s, writes ok again {writes:.1f}s "
              f"and live events again {events:.1f}s after PostgreSQL returned; "
              f"{run.writer.statuses[503]} fast 503s; {run.figures(verdict)}")


async def test_listener_stalled(rig: Rig) -> None:
    async with Run(rig) as run:
        leader, _ = await rig.roles()
        stalled_pid = (await rig.status(leader))["backend_pid"]
        proxy = rig.proxies[rig.workers.index(leader)]
        mark = await rig.newest_audit_id()
        assert proxy.blackhole(b"formula-pm-leader") >= 1

        async def noticed() -> bool:
            status = await rig.status(leader)
            return status.get("backend_pid") != stalled_pid or status.get("role") != "leader"

        async def recovered() -> bool:
            statuses = [await rig.status(w) for w in rig.workers]
            leading = [s for s in statuses if s.get("role") == "leader"]
            newest = max((max(m.live, default=0) for m in run.crowd.members), default=0)
            return bool(leading) and leading[0]["backend_pid"] != stalled_pid and newest > mark

        detected = await seconds_until(noticed, 30, every=0.2)
        recovery = await seconds_until(recovered, 30, every=0.2)
        who = [w for w in rig.workers if (await rig.status(w)).get("role") == "leader"]
        proxy.release_stalled()
        verdict = await run.finish()
        assert detected < STALL_AFTER + 2, detected
        assert set(run.writer.statuses) <= {200, 201}, run.writer.statuses
        print(f"\nlistener stalled: detected {detected:.1f}s after the blackhole, events "
              f"flowing again {detected + recovery:.1f}s after it, new leader "
              f"{'the same worker' if who and who[0] is leader else 'the other worker'}; "
              f"{run.figures(verdict)}")
