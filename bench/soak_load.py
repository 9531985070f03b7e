"""The soak run's load: REST mix, sign-ins and refreshes, and churning Socket.IO clients.

Every HTTP answer is counted by status (``Stats.statuses``); a 5xx is a failure of the run.
Requests go round robin over the workers; sockets alternate between them and a reconnect
lands on the other worker.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.mini_client import Tally

PASSWORD = "soak bench password 1"


@dataclass
class Stats:
    statuses: Counter[int] = field(default_factory=Counter)
    ops: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    sockets: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)

    def as_dict(self) -> dict[str, Any]:
        return {"http_statuses": dict(sorted(self.statuses.items())),
                "http_5xx": sum(n for s, n in self.statuses.items() if s >= 500),
                "rest_ops": dict(sorted(self.ops.items())),
                "http_4xx_by_route": dict(self.refusals), "errors": dict(self.errors),
                "socket_ops": dict(sorted(self.sockets.items())),
                "events_delivered": self.tally.count,
                "first_server_errors": self.server_errors[:20]}


@dataclass
class User:
    email: str
    id: str = ""
    access: str = ""
    refresh: str = ""


@dataclass
class World:
    users: list[User]
    projects: list[str]
    tasks: dict[str, deque[str]]


class Api:
    """JSON over HTTP, round robin over the workers, every status counted."""

    def __init__(self, http: aiohttp.ClientSession, urls: list[str], stats: Stats) -> None:
        self.http, self.urls, self.stats = http, urls, stats
        self._next = itertools.cycle(range(len(urls)))

    async def call(self, method: str, path: str, token: str | None = None,
                   body: Any = None) -> tuple[int, Any]:
        url = self.urls[next(self._next)] + "/api/v1" + path
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            async with self.http.request(method, url, json=body, headers=headers,
                                         timeout=aiohttp.ClientTimeout(total=30)) as resp:
                self.stats.statuses[resp.status] += 1
                data = await resp.json() if resp.content_type.endswith("json") else None
                if resp.status >= 400:
                    self.stats.refusals[f"{method} /{path.split('/')[1].split('?')[0]} "
                                        f"{resp.status}"] += 1
                if resp.status >= 500:
                    self.stats.server_errors.append(f"{method} {path}: {resp.status} {data}")
                return resp.status, data
        except (TimeoutError, aiohttp.ClientError) as exc:
            self.stats.errors[f"http {type(exc).__name__}"] += 1
            return 0, None

    async def must(self, method: str, path: str, token: str | None = None,
                   body: Any = None) -> Any:
        status, data = await self.call(method, path, token, body)
        if status >= 400 or status == 0:
            raise RuntimeError(f"{method} {path}: {status} {data}")
        return data


async def sign_in(api: Api, user: User) -> None:
    pair = await api.must("POST", "/auth/login", None,
                          {"email": user.email, "password": PASSWORD})
    user.access, user.refresh, user.id = pair["access_token"], pair["refresh_token"], \
        pair["user"]["id"]


async def make_world(api: Api, admin: User, users: int, projects: int) -> World:
    """``users`` project managers, members of all ``projects`` projects with 3 tasks each."""
    await sign_in(api, admin)
    tag = f"{random.getrandbits(32):08x}"
    people = []
    for n in range(users):
        user = User(f"soak-{tag}-{n}@example.com")
        await api.must("POST", "/users", admin.access,
                       {"email": user.email, "password": PASSWORD, "first_name": f"Soak{n}",
                        "last_name": "Bench", "role": "project_manager"})
        await sign_in(api, user)
        people.append(user)
    world = World(people, [], {})
    for n in range(projects):
        project = await api.must("POST", "/projects", admin.access,
                                 {"name": f"Soak project {n}", "type": "fit_out"})
        world.projects.append(project["id"])
        for user in people:
            await api.must("POST", f"/projects/{project['id']}/members", admin.access,
                           {"user_id": user.id, "role": "project_manager"})
        world.tasks[project["id"]] = deque(maxlen=50)
        for k in range(3):
            task = await api.must("POST", "/tasks", admin.access,
                                  {"project_id": project["id"], "name": f"Seed task {k}"})
            world.tasks[project["id"]].append(task["id"])
    return world


WORDS = ("joinery", "ceiling", "lobby", "millwork", "tiles", "glazing", "partition")


async def rest_op(api: Api, world: World, rng: random.Random) -> None:
    user = rng.choice(world.users)
    project = rng.choice(world.projects)
    tasks = world.tasks[project]
    word = rng.choice(WORDS)
    op = rng.choices(("task.create", "task.patch", "task.get", "task.list", "comment.create",
                      "comment.list", "search", "project.summary", "project.list",
                      "scope_group.create", "audit.record"),
                     (10, 30, 20, 10, 8, 4, 8, 4, 2, 2, 2))[0]
    api.stats.ops[op] += 1
    token = user.access
    if op == "task.create":
        status, data = await api.call("POST", "/tasks", token,
                                      {"project_id": project, "name": f"Soak {word} task"})
        if status == 201:
            tasks.append(data["id"])
    elif op == "task.patch":
        await api.call("PATCH", f"/tasks/{rng.choice(tasks)}", token,
                       {"description": f"{word} {time.time()}",
                        "priority": rng.choice(("low", "medium", "high"))})
    elif op == "task.get":
        await api.call("GET", f"/tasks/{rng.choice(tasks)}", token)
    elif op == "task.list":
        await api.call("GET", f"/tasks?project_id={project}&limit=50&sort=-updated_at", token)
    elif op == "comment.create":
        await api.call("POST", "/comments", token,
                       {"entity_type": "task", "entity_id": rng.choice(tasks),
                        "body": f"Checked the {word} on site"})
    elif op == "comment.list":
        await api.call("GET", f"/comments?entity_type=task&entity_id={rng.choice(tasks)}",
                       token)
    elif op == "search":
        await api.call("GET", f"/search?q={word}&limit=20", token)
    elif op == "project.summary":
        await api.call("GET", f"/projects/{project}/summary", token)
    elif op == "project.list":
        await api.call("GET", "/projects?limit=50", token)
    elif op == "scope_group.create":
        await api.call("POST", "/scope-groups", token,
                       {"project_id": project, "name": f"Soak {word} group {time.time_ns()}"})
    else:
        await api.call("GET", f"/audit/tasks/{rng.choice(tasks)}", token)


async def rest_load(api: Api, world: World, rate: float, until: float,
                    rng: random.Random, inflight: int = 16) -> None:
    """Open loop at ``rate`` requests/s, at most ``inflight`` outstanding."""
    gate, start, pending = asyncio.Semaphore(inflight), time.monotonic(), set()

    async def one() -> None:
        try:
            await rest_op(api, world, rng)
        finally:
            gate.release()

    for n in itertools.count():
        at = start + n / rate
        if at >= until:
            break
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        await gate.acquire()
        pending.add(asyncio.create_task(one()))
        pending = {p for p in pending if not p.done()}
    await asyncio.gather(*pending)


async def auth_load(api: Api, world: World, interval: float, until: float) -> None:
    """Alternately: refresh a user's pair, or sign a user in, read /me and sign out.

    Each has its own round robin over the users, so every user's pair is refreshed (with
    one shared cycle and an even number of users, half would never be, and their access
    tokens would expire under the sockets' reconnects)."""
    to_refresh, to_sign_in = itertools.cycle(world.users), itertools.cycle(world.users)
    for n in itertools.count():
        if time.monotonic() >= until:
            return
        user = next(to_refresh) if n % 2 == 0 else next(to_sign_in)
        if n % 2 == 0:
            api.stats.ops["auth.refresh"] += 1
            status, pair = await api.call("POST", "/auth/refresh", None,
                                          {"refresh_token": user.refresh})
            if status == 200:
                user.access, user.refresh = pair["access_token"], pair["refresh_token"]
        else:
            api.stats.ops["auth.login_me_logout"] += 1
            status, pair = await api.call("POST", "/auth/login", None,
                                          {"email": user.email, "password": PASSWORD})
            if status == 200:
                await api.call("GET", "/auth/me", pair["access_token"])
                await api.call("POST", "/auth/logout", pair["access_token"])
        await asyncio.sleep(interval)
