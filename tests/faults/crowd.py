"""Hundreds of lean Socket.IO clients that behave like real ones across a fault.

Each `Member` is a user's socket subscribed to the projects that user may read. It keeps, per
project, the newest cursor it saw; on `resync_required` it resyncs; when its connection drops
it reconnects (to the next worker) and resubscribes, then resyncs from its cursors. `Crowd`
opens them spread over the workers and, at the end, compares what each received (live and
through `resync`) with the audit log: nothing lost, nothing from a project it may not read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.mini_client import MiniClient
from db.cursor_codec import decode_feed_cursor
from tests.waiting import eventually

RETRY = 0.3  # seconds between attempts while a worker or the database is away


@dataclass
class Person:
    """A signed-in user: the token and the projects the user may read."""

    token: str
    readable: frozenset[str]


@dataclass
class Member:
    session: aiohttp.ClientSession
    person: Person
    urls: list[str]
    home: int
    forbidden: str  # a project of the org this user may not read: subscribing must fail
    live: dict[int, str] = field(default_factory=dict)  # audit id -> project, received live
    replayed: dict[int, str] = field(default_factory=dict)  # ... received through resync
    cursors: dict[str, str] = field(default_factory=dict)
    resync_required: int = 0
    reconnects: int = 0
    reconnected_at: float = 0.0
    gaps: int = 0
    stopping: bool = False
    client: MiniClient | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        return self.urls[self.home % len(self.urls)]

    async def join(self, *, check_forbidden: bool = False) -> None:
        """Connect to the current worker and subscribe to every readable project."""
        client = MiniClient(self.session, self.url, auth={"token": self.person.token},
                            on_event=self._on_event)
        await client.connect()
        self.client = client
        for project in sorted(self.person.readable):
            ack = (await client.call("subscribe", {"project_id": project}))[0]
            if not ack.get("ok"):
                raise ConnectionError(f"subscribe refused: {ack}")
            self.cursors.setdefault(project, ack["cursor"])
        if check_forbidden:
            ack = (await client.call("subscribe", {"project_id": self.forbidden}))[0]
            assert ack == {"ok": False, "error": {"code": "forbidden"}}, ack
        self._spawn(self._watch(client))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_event(self, name: str, args: list[Any]) -> None:
        data = args[0] if args else None
        if name == "resync_required":  # from the cursors held now: later events move them
            self.resync_required += 1
            self._spawn(self.resync_all(dict(self.cursors)))
        elif "." in name and isinstance(data, dict) and "id" in data:
            self._note(data, self.live)

    def _note(self, event: dict[str, Any], into: dict[int, str]) -> None:
        project = str(event.get("project_id"))
        into[int(event["id"])] = project
        cursor = event.get("cursor")
        if isinstance(cursor, str) and project in self.cursors:
            self._advance(project, cursor)

    def _advance(self, project: str, cursor: str) -> None:
        if decode_feed_cursor(cursor) > decode_feed_cursor(self.cursors[project]):
            self.cursors[project] = cursor

    async def _watch(self, client: MiniClient) -> None:
        """When the connection drops, reconnect to the next worker until it works."""
        await client.closed.wait()
        if self.stopping or client is not self.client:
            return
        held = dict(self.cursors)  # resubscribing brings new events that move the cursors
        while not self.stopping:
            self.home += 1
            try:
                await self.join()
            except (OSError, ConnectionError, aiohttp.ClientError, TimeoutError):
                await asyncio.sleep(RETRY)
                continue
            self.reconnects += 1
            self.reconnected_at = time.monotonic()
            await self.resync_all(held)
            return

    async def resync_all(self, held: dict[str, str] | None = None) -> None:
        for project in sorted(self.person.readable):
            await self.resync(project, (held or self.cursors)[project])

    async def resync(self, project: str, cursor: str, limit: float = 60) -> None:
        """Everything after our cursor; retried while the database or the socket is away."""
        last: dict[str, Any] = {}

        async def answered() -> dict[str, Any] | None:
            client = self.client
            try:
                assert client is not None
                ack = (await client.call("resync", {"project_id": project,
                                                    "cursor": cursor}))[0]
            except (OSError, ConnectionError, TimeoutError):
                ack = {"ok": False, "error": {"code": "disconnected"}}
            last.clear()
            last.update(ack)
            return ack if ack.get("ok") else None

        ack = await eventually(answered, limit=limit, interval=RETRY,
                               explain=lambda: f"resync kept failing: {last}")
        if ack.get("gap"):
            self.gaps += 1
        for event in ack.get("events", []):
            self._note(event, self.replayed)
        self._advance(project, ack["cursor"])

    def received(self) -> dict[int, str]:
        return {**self.replayed, **self.live}

    async def close(self) -> None:
        self.stopping = True
        if self.client is not None:
            await self.client.close()
        for task in list(self._tasks):
            task.cancel()


@dataclass
class Verdict:
    expected: int  # (client, event) pairs the clients had to end up with
    lost: int
    foreign: int  # events that reached a socket whose user may not read their project
    live_share: float  # of what arrived, the part that arrived live (not through resync)
    resync_required: int
    reconnects: int
    gaps: int


class Crowd:
    def __init__(self, people: Sequence[Person], urls: list[str], projects: Sequence[str],
                 size: int) -> None:
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self.members = []
        for i in range(size):
            person = people[i % len(people)]
            outside = [p for p in projects if p not in person.readable]
            self.members.append(Member(self.session, person, urls, home=i,
                                       forbidden=outside[i % len(outside)]))

    async def join(self, parallel: int = 20) -> None:
        gate = asyncio.Semaphore(parallel)

        async def one(i: int, member: Member) -> None:
            async with gate:
                await member.join(check_forbidden=i % 10 == 0)

        await asyncio.gather(*(one(i, m) for i, m in enumerate(self.members)))

    def on(self, url: str) -> list[Member]:
        return [m for m in self.members if m.url == url and m.client is not None
                and not m.client.closed.is_set()]

    def live_count(self) -> int:
        return sum(len(m.live) for m in self.members)

    async def resync_all(self, parallel: int = 20) -> None:
        gate = asyncio.Semaphore(parallel)

        async def one(member: Member) -> None:
            async with gate:
                await member.resync_all()

        await asyncio.gather(*(one(m) for m in self.members))

    def verdict(self, audit: Mapping[str, set[int]], since: int) -> Verdict:
        """Compare with the audit ids (> `since`) of every project."""
        expected = lost = foreign = live = total = 0
        for member in self.members:
            got = member.received()
            foreign += sum(1 for p in got.values() if p not in member.person.readable)
            for project in member.person.readable:
                want = {i for i in audit.get(project, set()) if i > since}
                have = {i for i, p in got.items() if p == project and i > since}
                expected += len(want)
                lost += len(want - have)
            total += len(got)
            live += len(member.live)
        return Verdict(expected, lost, foreign, live / total if total else 0.0,
                       sum(m.resync_required for m in self.members),
                       sum(m.reconnects for m in self.members),
                       sum(m.gaps for m in self.members))

    async def close(self) -> None:
        await asyncio.gather(*(m.close() for m in self.members), return_exceptions=True)
        await self.session.close()
