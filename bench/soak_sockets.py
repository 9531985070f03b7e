"""The soak run's Socket.IO clients: subscribe, receive, churn, resync from cursors, typing.

Each client (bench/mini_client.py) belongs to one of the soak users, subscribes to one or
two projects and keeps the newest ``cursor`` it saw per project. Churn picks one client at
a time and either reconnects it (close, connect with the user's current token to the worker
holding fewer of the fleet's sockets, subscribe again, ``resync`` from the kept cursors), or
unsubscribes and resubscribes one project (with a ``resync``), or sends a ``typing`` event.
Clients the server closed are counted and reconnected by the sweep.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import aiohttp

from bench.mini_client import MiniClient
from bench.soak_load import Stats, World


class SoakSocket:
    def __init__(self, index: int, world: World, urls: list[str], rng: random.Random) -> None:
        self.index = index
        self.user = world.users[index % len(world.users)]
        self.projects = rng.sample(world.projects, 1 + index % 2)
        self.cursors: dict[str, Any] = {}
        self.worker = index % len(urls)
        self.mini: MiniClient | None = None
        self.busy = False  # churn or sweep is working on it

    def on_event(self, name: str, args: list[Any]) -> None:
        body = args[0] if args else None
        if isinstance(body, dict) and "cursor" in body and body.get("project_id"):
            self.cursors[body["project_id"]] = body["cursor"]

    def alive(self) -> bool:
        mini = self.mini
        return bool(mini and mini._reader is not None and not mini._reader.done())


class Fleet:
    def __init__(self, http: aiohttp.ClientSession, urls: list[str], world: World,
                 stats: Stats, count: int, rng: random.Random) -> None:
        self.http, self.urls, self.world, self.stats, self.rng = http, urls, world, stats, rng
        self.sockets = [SoakSocket(i, world, urls, rng) for i in range(count)]

    async def _call(self, sock: SoakSocket, event: str, body: dict[str, Any]) -> Any:
        assert sock.mini is not None
        self.stats.sockets[event] += 1
        try:
            answer = await sock.mini.call(event, body, within=15)
        except (TimeoutError, ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            self.stats.errors[f"{event} {type(exc).__name__}"] += 1
            return None
        reply = answer[0] if answer else None
        if not (isinstance(reply, dict) and reply.get("ok")):
            self.stats.errors[f"{event} refused {reply}"[:120]] += 1
            return None
        return reply

    async def _subscribe(self, sock: SoakSocket, project: str) -> None:
        reply = await self._call(sock, "subscribe", {"project_id": project})
        if reply is None:
            return
        held = sock.cursors.get(project)
        if held is None:
            sock.cursors[project] = reply.get("cursor")
            return
        again = await self._call(sock, "resync", {"project_id": project, "cursor": held})
        if again is not None:
            if again.get("gap"):
                self.stats.sockets["resync_gap"] += 1
                sock.cursors[project] = reply.get("cursor")
            else:
                self.stats.sockets["resync_events"] += len(again.get("events", []))
                sock.cursors[project] = again.get("cursor") or held

    def _emptier(self, current: int) -> int:
        """The worker holding fewest of the fleet's sockets (another one on a tie)."""
        held = [0] * len(self.urls)
        for sock in self.sockets:
            if sock.mini is not None:
                held[sock.worker] += 1
        held[current] += 1  # prefer moving: a tie sends the socket to another worker
        return min(range(len(held)), key=lambda w: held[w])

    async def connect(self, sock: SoakSocket) -> None:
        self.stats.sockets["connect"] += 1
        mini = MiniClient(self.http, self.urls[sock.worker], tally=self.stats.tally,
                          auth={"token": sock.user.access}, on_event=sock.on_event)
        try:
            await asyncio.wait_for(mini.connect(), 15)
        except (TimeoutError, ConnectionError, aiohttp.ClientError) as exc:
            self.stats.errors[f"connect {type(exc).__name__}"] += 1
            await mini.close()
            return
        sock.mini = mini
        for project in sock.projects:
            await self._subscribe(sock, project)

    async def disconnect(self, sock: SoakSocket) -> None:
        if sock.mini is not None:
            self.stats.sockets["disconnect"] += 1
            await sock.mini.close()
            sock.mini = None

    async def connect_all(self, parallel: int = 20) -> None:
        gate = asyncio.Semaphore(parallel)

        async def one(sock: SoakSocket) -> None:
            async with gate:
                await self.connect(sock)

        await asyncio.gather(*(one(s) for s in self.sockets))

    async def churn_one(self) -> None:
        sock = self.rng.choice(self.sockets)
        if sock.busy or not sock.alive():
            return
        sock.busy = True
        try:
            await self._churn(sock)
        finally:
            sock.busy = False

    async def _churn(self, sock: SoakSocket) -> None:
        action = self.rng.choices(("reconnect", "resubscribe", "typing"), (5, 3, 2))[0]
        if action == "reconnect":
            await self.disconnect(sock)
            sock.worker = self._emptier(sock.worker)
            await self.connect(sock)
        elif action == "resubscribe":
            project = self.rng.choice(sock.projects)
            await self._call(sock, "unsubscribe", {"project_id": project})
            await self._subscribe(sock, project)
        else:
            tasks = self.world.tasks[sock.projects[0]]
            for active in (True, False):
                await self._call(sock, "typing", {
                    "project_id": sock.projects[0], "resource": "task",
                    "record_id": tasks[-1], "field": "description", "active": active})

    async def churn(self, rate: float, until: float) -> None:
        """``rate`` churn actions per second (each awaited in its own task)."""
        pending: set[asyncio.Task[None]] = set()
        while time.monotonic() < until:
            pending.add(asyncio.create_task(self.churn_one()))
            pending = {p for p in pending if not p.done()}
            await asyncio.sleep(1 / rate)
        await asyncio.gather(*pending)

    async def sweep(self, every: float, until: float) -> None:
        """Reconnect clients whose connection the server closed (counted as dropped)."""
        while time.monotonic() < until:
            await asyncio.sleep(every)
            for sock in self.sockets:
                if sock.busy or sock.alive():
                    continue
                sock.busy = True
                try:
                    if sock.mini is not None:
                        self.stats.sockets["dropped_by_server"] += 1
                        await self.disconnect(sock)
                    await self.connect(sock)
                finally:
                    sock.busy = False

    def connected(self) -> int:
        return sum(s.alive() for s in self.sockets)

    async def close_all(self) -> None:
        await asyncio.gather(*(self.disconnect(s) for s in self.sockets))
