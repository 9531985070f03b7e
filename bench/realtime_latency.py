"""Commit-to-client latency: 1,000 sockets over 100 projects while REST writes 200 tasks/s.

Needs the hub and the REST routes (main after the real-time merge). Either point it at
running workers, ``--url http://127.0.0.1:5014[,http://127.0.0.1:5015] --email E
--password P`` (an org admin), or let it start them: ``--spawn 1`` or ``--spawn 2`` runs
``python -m server serve`` workers pinned to core 0 (``--worker-cores 0,1``: one per
core), with DATABASE_URL (migrated), JWT_SECRET and, for 2, REDIS_URL from the
environment, and creates an admin with ``create-admin``. PostgreSQL and Redis are not
pinned (say so when reporting).

Method. This process (core 1) is both the writer and the 1,000 clients, so every stamp
is on one clock (``time.perf_counter``). It creates 100 projects with 2 tasks each,
connects 1,000 websocket-only Socket.IO clients (bench/mini_client.py, auth ``{token}``;
spread over the workers) and subscribes 10 to each project. The writer then PATCHes tasks
open-loop at ``--rate`` per second, round robin over projects and workers, each with its
own ``X-Request-ID``; it stamps ``sent`` before the request and ``acked`` when the 200
arrives (the transaction has committed by then: the handler commits before it answers).
Each client stamps ``received`` when it reads a ``task.updated`` frame and maps it to the
write by the payload's ``request_id``. Commit-to-client = received - acked (a slight
under-estimate, negative when the event beats the response); received - sent is the
upper bound. Also reported: deliveries missing (10 expected per write) and REST latency.
This process does no garbage collection from the first write to the end of the drain
(its own pauses would show as latency).

Realistic users (issue 25): ``--users N`` (default 1,000) creates N users through the API,
``N / projects`` members per project, each signed in with a session of its own; client i
connects with user i's token and subscribes to that user's project, and every write is made
by a random member of the task's project with that member's token (not one admin token whose
session is always hot). ``--users 0`` is the old single-admin run. ``--no-pin`` pins nothing
(workers and this process float over every core).

Windows: ``--rate 200,400,600`` measures one window per rate over the same users and
sockets (the ceiling: the highest rate whose send-to-receive p99 stays within bounds), and
``--rounds K`` repeats each rate K times (run-to-run spread without K set-ups). Each window
warms up for ``--warmup`` seconds, writes for ``--seconds`` and drains; the report holds one
entry per window.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg

from bench.fanout_saturation import CLIENT_CPU, free_port, machine
from bench.mini_client import MiniClient, Tally

PASSWORD = "latency bench password 1"


@dataclass
class Stamps:
    sent: dict[str, float] = field(default_factory=dict)
    acked: dict[str, float] = field(default_factory=dict)
    received: list[tuple[str, float]] = field(default_factory=list)
    failed: int = 0
    names: Counter[str] = field(default_factory=Counter)  # every event received, by name


def spawn_workers(count: int, cores: list[str] | None
                  ) -> tuple[list[subprocess.Popen[bytes]], list[str], str, str]:
    """Start ``count`` workers, worker i pinned to ``cores[i % len(cores)]``, and create an
    admin; returns procs, urls, login."""
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    subprocess.run([sys.executable, "-m", "server", "create-admin", "--org",
                    f"bench-{uuid.uuid4().hex[:8]}", "--email", email, "--password", PASSWORD],
                   check=True, stdout=subprocess.DEVNULL)
    procs, urls = [], []
    for n in range(count):
        port = free_port()
        # Many sockets per user: the per-user cap (meant for real users) is lifted here.
        env = {**os.environ, "PORT": str(port),
               "LOG_LEVEL": os.environ.get("BENCH_WORKER_LOG_LEVEL", "WARNING"),
               "SOCKET_MAX_PER_USER": "100000"}
        pin = ["taskset", "-c", cores[n % len(cores)]] if cores else []
        procs.append(subprocess.Popen([*pin, sys.executable, "-m", "server",
                                       "serve", "--port", str(port)], env=env))
        urls.append(f"http://127.0.0.1:{port}")
    return procs, urls, email, PASSWORD


async def wait_ready(http: aiohttp.ClientSession, url: str, seconds: float = 30) -> None:
    """Up to ``seconds`` for /health (a busy shared machine starts workers slowly)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            async with http.get(url + "/health") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} never became healthy")


async def api(http: aiohttp.ClientSession, method: str, url: str, token: str | None = None,
              body: Any = None, headers: dict[str, str] | None = None) -> Any:
    hdrs = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}
    async with http.request(method, url, json=body, headers=hdrs) as resp:
        if resp.status >= 400:
            raise RuntimeError(f"{method} {url}: {resp.status} {await resp.text()}")
        return await resp.json()


async def make_world(http: aiohttp.ClientSession, url: str, token: str,
                     projects: int) -> list[tuple[str, list[str]]]:
    """``projects`` projects with two tasks each: [(project id, [task ids])]."""
    world = []
    for n in range(projects):
        project = await api(http, "POST", f"{url}/api/v1/projects", token,
                            {"name": f"Latency bench {n}", "type": "fit_out"})
        tasks = [(await api(http, "POST", f"{url}/api/v1/tasks", token,
                            {"project_id": project["id"], "name": f"Task {k}"}))["id"]
                 for k in range(2)]
        world.append((project["id"], tasks))
    return world


async def make_users(http: aiohttp.ClientSession, url: str, admin: str,
                     world: list[tuple[str, list[str]]], count: int) -> list[tuple[int, str]]:
    """``count`` users through the API, user i a member of project i % len(world), each
    signed in with its own session: [(project index, access token)]."""
    tag, gate = uuid.uuid4().hex[:6], asyncio.Semaphore(8)

    async def one(i: int) -> tuple[int, str]:
        async with gate:
            email = f"member{i}-{tag}@latency.example"
            user = await api(http, "POST", f"{url}/api/v1/users", admin, {
                "email": email, "password": PASSWORD, "first_name": "Bench",
                "last_name": f"Member {i}", "role": "project_manager"})
            project = i % len(world)
            await api(http, "POST", f"{url}/api/v1/projects/{world[project][0]}/members",
                      admin, {"user_id": user["id"]})
            login = await api(http, "POST", f"{url}/api/v1/auth/login", None,
                              {"email": email, "password": PASSWORD})
            return project, str(login["access_token"])

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def connect_clients(http: aiohttp.ClientSession, urls: list[str], tokens: list[str],
                          world: list[tuple[str, list[str]]], count: int,
                          stamps: Stamps, projects_of: list[int] | None = None
                          ) -> list[MiniClient]:
    """Client i signs in with tokens[i % len(tokens)] and subscribes to project
    projects_of[i] (default i % len(world))."""
    def on_event(name: str, args: list[Any]) -> None:
        stamps.names[name] += 1
        if name == "task.updated" and args and isinstance(args[0], dict):
            stamps.received.append((str(args[0].get("request_id")), time.perf_counter()))

    clients = [MiniClient(http, urls[i % len(urls)], tally=Tally(),
                          auth={"token": tokens[i % len(tokens)]}, on_event=on_event)
               for i in range(count)]
    gate = asyncio.Semaphore(50)

    async def one(i: int, client: MiniClient) -> None:
        async with gate:
            await client.connect()
            project = projects_of[i] if projects_of else i % len(world)
            answer = await client.call("subscribe", {"project_id": world[project][0]})
            if not (answer and answer[0].get("ok")):
                raise RuntimeError(f"subscribe refused: {answer}")

    await asyncio.gather(*(one(i, c) for i, c in enumerate(clients)))
    return clients


async def write_load(http: aiohttp.ClientSession, urls: list[str],
                     writers: dict[int, list[str]], world: list[tuple[str, list[str]]],
                     rate: float, seconds: float, stamps: Stamps, tag: str) -> None:
    """Open loop: write n is started at start + n / rate whatever the earlier ones do, by a
    random one of the tokens `writers` holds for the task's project."""
    targets = itertools.cycle([(i, t) for i, (_, ts) in enumerate(world) for t in ts])
    start, pending = time.perf_counter(), set()
    for n in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
        project, task = next(targets)
        request_id = f"{tag}-{n}"
        token = random.choice(writers[project])
        pending.add(asyncio.create_task(
            patch(http, urls[n % len(urls)], token, task, request_id, stamps)))
        pending = {p for p in pending if not p.done()}
    await asyncio.gather(*pending)


async def patch(http: aiohttp.ClientSession, url: str, token: str, task: str,
                request_id: str, stamps: Stamps) -> None:
    stamps.sent[request_id] = time.perf_counter()
    try:
        await api(http, "PATCH", f"{url}/api/v1/tasks/{task}", token,
                  {"description": f"latency write {request_id}"},  # unique: no-ops emit nothing
                  {"X-Request-ID": request_id})
    except RuntimeError:
        stamps.failed += 1
        return
    stamps.acked[request_id] = time.perf_counter()


def _ticks(pid: int | str) -> int:
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:  # gone (a PostgreSQL backend that exited)
        return 0
    return int(fields[11]) + int(fields[12])


def _postgres_pids() -> list[str]:
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if open(f"/proc/{pid}/comm").read().strip() == "postgres":
                pids.append(pid)
        except OSError:
            continue
    return pids


def cpu_sample(workers: list[int]) -> dict[str, float]:
    """CPU seconds so far: the workers, this process, PostgreSQL, and the machine's busy."""
    hz = os.sysconf("SC_CLK_TCK")
    total = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return {"workers": sum(_ticks(p) for p in workers) / hz,
            "load_generator": _ticks(os.getpid()) / hz,
            "postgres": sum(_ticks(p) for p in _postgres_pids()) / hz,
            "machine_busy": (sum(total) - total[3] - total[4]) / hz,
            "wall": time.perf_counter()}


def cpu_used(before: dict[str, float], after: dict[str, float], writes: int
             ) -> dict[str, Any]:
    """Cores used during the window, and worker CPU per write (ms)."""
    wall = after["wall"] - before["wall"]
    cores = {k: round((after[k] - before[k]) / wall, 2) for k in before if k != "wall"}
    return {"cores": cores, "cores_available": os.cpu_count(),
            "worker_ms_per_write": round(1000 * (after["workers"] - before["workers"])
                                         / max(writes, 1), 3)}


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return {"p50_ms": pick(0.5), "p90_ms": pick(0.9), "p99_ms": pick(0.99),
            "max_ms": ordered[-1] * 1000, "mean_ms": statistics.fmean(ordered) * 1000}


def analyse(stamps: Stamps, tag: str, per_project: int) -> dict[str, Any]:
    mine = [(rid, t) for rid, t in stamps.received if rid.startswith(tag + "-")]
    acked = {r: t for r, t in stamps.acked.items() if r.startswith(tag + "-")}
    sent = {r: t for r, t in stamps.sent.items() if r.startswith(tag + "-")}
    per_write = Counter(rid for rid, _ in mine)
    copies = Counter(per_write.get(rid, 0) for rid in acked)
    seen = set(per_write)
    return {"writes": len(sent), "acked": len(acked), "failed": stamps.failed,
            "deliveries": len(mine), "missing": len(acked) * per_project - len(mine),
            "writes_by_copies_received": dict(sorted(copies.items())),
            "unseen_writes": sorted(int(r.rsplit("-", 1)[1]) for r in acked
                                    if r not in seen)[:50],
            "commit_to_client": percentiles([t - acked[r] for r, t in mine if r in acked]),
            "send_to_client": percentiles([t - sent[r] for r, t in mine if r in sent]),
            "rest": percentiles([acked[r] - sent[r] for r in acked]),
            "slow_writes": slow_writes(sent, acked)}


def slow_writes(sent: dict[str, float], acked: dict[str, float], over: float = 0.05,
                ) -> dict[str, Any]:
    """The writes whose answer took over `over` seconds: how many, and the second of the
    window each was sent in (one burst or a spread tells a stall from a slow path)."""
    if not sent:
        return {}
    start = min(sent.values())
    seconds = Counter(int(sent[r] - start) for r in acked if acked[r] - sent[r] > over)
    return {"over_ms": over * 1000, "count": sum(seconds.values()),
            "by_second": dict(sorted(seconds.items()))}


async def run(args: argparse.Namespace, urls: list[str], email: str,
              password: str, pids: list[int]) -> list[dict[str, Any]]:
    stamps, tag = Stamps(), uuid.uuid4().hex[:8]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        for url in urls:
            await wait_ready(http, url)
        login = await api(http, "POST", f"{urls[0]}/api/v1/auth/login", None,
                          {"email": email, "password": password})
        token = login["access_token"]
        world = await make_world(http, urls[0], token, args.projects)
        writers: dict[int, list[str]] = {i: [token] for i in range(len(world))}
        if args.users:
            members = await make_users(http, urls[0], token, world, args.users)
            writers = {i: [t for p, t in members if p == i] or [token]
                       for i in range(len(world))}
            clients = await connect_clients(http, urls, [t for _, t in members], world,
                                            args.clients, stamps,
                                            [members[i % len(members)][0]
                                             for i in range(args.clients)])
        else:
            clients = await connect_clients(http, urls, [token], world, args.clients, stamps)
        # This process's own collections would delay its receive stamps (28-45 ms pauses
        # seen): none while it measures.
        gc.collect()
        gc.freeze()
        gc.disable()
        windows = []
        writing = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency))
        async with writing:
            for n, rate in enumerate(r for r in args.rate for _ in range(args.rounds)):
                window = await measure_window(args, writing, urls, writers, world, rate,
                                              stamps, f"{tag}{n}", pids)
                windows.append({**window, "clients_connected": sum(
                    not c.closed.is_set() for c in clients), "events": dict(stamps.names)})
        gc.enable()
        await asyncio.gather(*(c.close() for c in clients))
    return windows


async def measure_window(args: argparse.Namespace, http: aiohttp.ClientSession,
                         urls: list[str], writers: dict[int, list[str]],
                         world: list[tuple[str, list[str]]], rate: float, stamps: Stamps,
                         tag: str, pids: list[int]) -> dict[str, Any]:
    """One window: warm up, write at `rate` for `--seconds`, drain, and analyse."""
    if args.vacuum:
        await vacuum()
    print(f"warming up at {rate:g}/s", file=sys.stderr, flush=True)
    await write_load(http, urls, writers, world, rate, args.warmup, stamps, tag + "w")
    before = cpu_sample(pids)
    print("measuring", file=sys.stderr, flush=True)
    stamps.failed = 0
    await write_load(http, urls, writers, world, rate, args.seconds, stamps, tag)
    cpu = cpu_used(before, cpu_sample(pids), int(rate * args.seconds))
    print("measured", file=sys.stderr, flush=True)
    await asyncio.sleep(args.drain)
    return {"rate": rate, **analyse(stamps, tag, args.clients // args.projects), "cpu": cpu,
            "load_after": os.getloadavg()}


async def vacuum() -> None:
    """What autovacuum does between a production server's bursts, on a server that may run
    without it (this machine's): the written tables vacuumed, the audit log analysed. Without
    it every window's updates leave dead versions in the tasks' indexes (a description is in
    the search vector: no HOT update), and each window is slower than the one before."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM (ANALYZE) tasks")
        await conn.execute("ANALYZE audit_logs")
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="running workers, comma-separated")
    parser.add_argument("--email")
    parser.add_argument("--password")
    parser.add_argument("--spawn", type=int, choices=[1, 2], help="start this many workers")
    parser.add_argument("--worker-cores", default="0",
                        help="cores for spawned workers, comma-separated, one per worker in "
                             "turn (default: all on core 0; the clients run on core 1)")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--projects", type=int, default=100)
    parser.add_argument("--rate", type=lambda v: [float(r) for r in v.split(",")],
                        default=[200.0], help="REST writes per second; a comma-separated "
                        "list measures one window per rate (the ceiling), in order")
    parser.add_argument("--rounds", type=int, default=1,
                        help="windows per rate over the same users and sockets")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--drain", type=float, default=2, help="wait for late events")
    parser.add_argument("--concurrency", type=int, default=64, help="writer connections")
    parser.add_argument("--users", type=int, default=1000,
                        help="users with their own sessions, members of the projects in turn;"
                             " clients and writes use their tokens (0: one admin token)")
    parser.add_argument("--no-pin", action="store_true",
                        help="pin nothing: workers and this process on every core")
    parser.add_argument("--vacuum", action=argparse.BooleanOptionalAction, default=True,
                        help="vacuum the tasks and analyse the audit log before each window "
                        "(with DATABASE_URL; as autovacuum would)")
    parser.add_argument("--json")
    args = parser.parse_args()
    if not args.no_pin:
        os.sched_setaffinity(0, {CLIENT_CPU})
    procs: list[subprocess.Popen[bytes]] = []
    if args.spawn:
        procs, urls, email, password = spawn_workers(
            args.spawn, None if args.no_pin else args.worker_cores.split(","))
    else:
        urls, email, password = args.url.split(","), args.email, args.password
    try:
        report = {"machine": machine(), "workers": len(urls),
                  "worker_cores": (None if args.no_pin else args.worker_cores)
                  if args.spawn else None,
                  "pinned": not args.no_pin, "users": args.users,
                  "clients": args.clients,
                  "projects": args.projects, "seconds": args.seconds,
                  "vacuum": args.vacuum,
                  "windows": asyncio.run(run(args, urls, email, password,
                                             [p.pid for p in procs]))}
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(10)
    print(json.dumps(report, indent=2))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)


if __name__ == "__main__":
    main()
