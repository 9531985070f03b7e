"""The REST load of the fault suite: ~50 writes/s, task creations and updates spread over
several projects and every live worker, with what each answer was and how long it took."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp

TIMEOUT = 30.0  # the client's own limit; the suite asserts a much lower bound


@dataclass
class Writer:
    token: str
    urls: list[str]  # the test replaces it when a worker dies
    projects: Sequence[str]
    rate: float = 50.0
    statuses: Counter[int] = field(default_factory=Counter)  # 0: worker unreachable
    slowest: float = 0.0
    created: list[str] = field(default_factory=list)
    updated: int = 0
    bad: list[str] = field(default_factory=list)  # answers that break the contract
    first_503: float = 0.0
    last_503: float = 0.0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    def reset(self) -> None:
        self.statuses.clear()
        self.slowest, self.first_503, self.last_503 = 0.0, 0.0, 0.0
        self.bad.clear()

    def ok_since(self, count: int) -> int:
        return self.statuses[200] + self.statuses[201] - count

    async def _run(self) -> None:
        inflight: set[asyncio.Task[None]] = set()
        async with aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=aiohttp.ClientTimeout(TIMEOUT)) as http:
            for n in itertools.count():
                if self._stop.is_set():
                    break
                started = time.monotonic()
                task = asyncio.create_task(self._one(http, n))
                inflight.add(task)
                task.add_done_callback(inflight.discard)
                await asyncio.sleep(max(0.0, 1 / self.rate - (time.monotonic() - started)))
            await asyncio.gather(*inflight)

    async def _one(self, http: aiohttp.ClientSession, n: int) -> None:
        url = self.urls[n % len(self.urls)]
        project = self.projects[n % len(self.projects)]
        started = time.monotonic()
        try:
            if self.created and random.random() < 0.3:
                task_id = random.choice(self.created[-200:])
                answer = await http.patch(f"{url}/api/v1/tasks/{task_id}",
                                          json={"description": f"update {n}"})
            else:
                answer = await http.post(f"{url}/api/v1/tasks",
                                         json={"project_id": project, "name": f"load {n}"})
            async with answer:
                self._judge(answer, await answer.read(), started)
                if answer.status == 201:
                    self.created.append((await answer.json())["id"])
                elif answer.status == 200:
                    self.updated += 1
        except aiohttp.ClientConnectionError:
            self.statuses[0] += 1
        self.slowest = max(self.slowest, time.monotonic() - started)

    def _judge(self, answer: aiohttp.ClientResponse, body: bytes, started: float) -> None:
        self.statuses[answer.status] += 1
        if answer.status < 400:
            return
        if answer.content_type != "application/problem+json":
            self.bad.append(f"{answer.status} as {answer.content_type}: {body[:200]!r}")
        if answer.status == 503:
            if "Retry-After" not in answer.headers:
                self.bad.append("503 without Retry-After")
            self.last_503 = time.monotonic()
            self.first_503 = self.first_503 or started
