"""Soak run: 2 workers under 30 minutes of mixed load; RSS and open fds must stay flat.

``python -m bench.soak [--minutes 30] [--warmup 5] [--json FILE]`` (not in CI). It creates a
database of its own (``fpm_soak_<tag>`` on ``--pg``, migrated, dropped at the end; or uses
``DATABASE_URL`` with ``--keep-db``), a Redis key prefix of its own (``FPM_ENV=soak-<tag>``,
its keys deleted at the end),
starts 2 ``python -m server serve`` workers on free ports (stderr to ``--log-dir``),
creates an org admin with ``create-admin``, ``--users`` project managers who are members
of ``--projects`` projects, and then, for ``--minutes``, runs at once:

* REST at ``--rest-rate`` requests/s over both workers: task creates, updates, reads and
  lists, comments, searches, project summaries and lists, scope groups, record audit;
* every ``--auth-interval`` s a token refresh or a sign-in / ``/auth/me`` / sign-out;
* ``--clients`` Socket.IO clients (bench/soak_sockets.py) that receive the change events
  and churn at ``--churn-rate`` actions/s (reconnect + resync from cursors, unsubscribe /
  resubscribe + resync, typing).

Every ``--sample`` s it records each worker's RSS, open fds by kind, connected sockets and
5xx (bench/soak_probe.py). After ``--warmup`` minutes the median of the first 3 samples is
the baseline; the median of the last 3 must be under 10% above it for RSS and for fds, and
no request may answer 5xx. Exit status 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
import redis.asyncio

from bench.fanout_saturation import free_port, machine
from bench.realtime_latency import wait_ready
from bench.soak_load import PASSWORD, Api, Stats, User, auth_load, make_world, rest_load
from bench.soak_probe import compare, sample
from bench.soak_sockets import Fleet


def _cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _database(admin_url: str, name: str, create: bool) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"' if create
                           else f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _drop_keys(url: str, prefix: str) -> None:
    client = redis.asyncio.Redis.from_url(url)
    async with client:
        async for key in client.scan_iter(match=prefix + "*", count=500):
            await client.delete(key)


class Workers:
    def __init__(self, env: dict[str, str], count: int, log_dir: Path, tag: str) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.ports: list[int] = []
        self.logs: list[IO[bytes]] = []
        for n in range(count):
            port = free_port()
            log = open(log_dir / f"soak-{tag}-worker{n}.log", "wb")
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "server", "serve", "--port", str(port)],
                env={**env, "PORT": str(port)}, stdout=log, stderr=log))
            self.ports.append(port)
            self.logs.append(log)
        self.urls = [f"http://127.0.0.1:{p}" for p in self.ports]

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for log in self.logs:
            log.close()


async def sampler(http: aiohttp.ClientSession, workers: Workers, fleet: Fleet, stats: Stats,
                  started: float, until: float, every: float, pg_port: int,
                  redis_port: int, samples: list[dict[str, Any]]) -> None:
    targets = list(zip([p.pid for p in workers.procs], workers.urls, workers.ports,
                       strict=True))
    while True:
        row = await sample(http, targets, started, pg_port, redis_port)
        row.update(events=stats.tally.count, http_5xx=stats.as_dict()["http_5xx"],
                   requests=sum(stats.statuses.values()), fleet_connected=fleet.connected())
        samples.append(row)
        cells = "  ".join(f"w{n}: {w['rss_kib'] / 1024:6.1f} MiB {w['fds']['total']:4d} fds "
                          f"({w['fds']['clients']:3d} cl) {w['sockets']:3d} sio"
                          for n, w in enumerate(row["workers"]))
        print(f"t={row['t']:7.1f}s  {cells}  req={row['requests']} 5xx={row['http_5xx']} "
              f"events={row['events']}", flush=True)
        if time.monotonic() + every > until:
            return
        await asyncio.sleep(every)


async def run(args: argparse.Namespace, workers: Workers, admin: User,
              pg_port: int, redis_port: int) -> dict[str, Any]:
    rng, stats = random.Random(args.seed), Stats()
    samples: list[dict[str, Any]] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        for url in workers.urls:
            await wait_ready(http, url, 120)
        rest = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=16))
        async with rest:
            api = Api(rest, workers.urls, stats)
            world = await make_world(api, admin, args.users, args.projects)
            fleet = Fleet(http, workers.urls, world, stats, args.clients, rng)
            await fleet.connect_all()
            started = time.monotonic()
            until = started + args.minutes * 60
            cpu_before = [_cpu_seconds(p.pid) for p in workers.procs]
            own_before = time.process_time()
            await asyncio.gather(
                rest_load(api, world, args.rest_rate, until, rng),
                auth_load(api, world, args.auth_interval, until),
                fleet.churn(args.churn_rate, until), fleet.sweep(10, until),
                sampler(http, workers, fleet, stats, started, until, args.sample,
                        pg_port, redis_port, samples))
            wall = time.monotonic() - started
            cpu = {"workers_cores": [round((_cpu_seconds(p.pid) - b) / wall, 3)
                                     for p, b in zip(workers.procs, cpu_before, strict=True)],
                   "load_generator_cores": round((time.process_time() - own_before) / wall, 3)}
            await fleet.close_all()
    result = stats.as_dict()
    result["rates_per_s"] = {"requests": round(sum(stats.statuses.values()) / wall, 2),
                             "events_delivered": round(stats.tally.count / wall, 1),
                             "socket_ops": round(sum(stats.sockets.values()) / wall, 2)}
    return {"result": result, "cpu": cpu, "wall_s": round(wall, 1),
            "growth": compare(samples, args.warmup * 60), "samples": samples}


def table(report: dict[str, Any]) -> str:
    growth = report["growth"]
    if "workers" not in growth:
        return f"no comparison: {growth.get('reason')}"
    lines = ["worker  measure      warm-up      end   growth"]
    for n, row in enumerate(growth["workers"]):
        for pick, label in (("rss_kib", "RSS KiB"), ("total", "fds"), ("files", "fds non-sock"),
                            ("postgres", "fds postgres"), ("redis", "fds redis"),
                            ("clients", "fds clients")):
            cell = row[pick]
            lines.append(f"w{n:<6} {label:<12} {cell['warm']:>8.0f} {cell['end']:>8.0f} "
                         f"{cell['growth_pct']:>+7.1f}%")
    result = report["result"]
    lines.append(f"5xx: {result['http_5xx']}  events delivered: {result['events_delivered']}  "
                 f"growth under {growth['limit_pct']}%: {growth['ok']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=5, help="minutes before the baseline")
    parser.add_argument("--sample", type=float, default=15, help="seconds between samples")
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--users", type=int, default=6)
    parser.add_argument("--projects", type=int, default=12)
    parser.add_argument("--rest-rate", type=float, default=10)
    parser.add_argument("--auth-interval", type=float, default=2.0)
    parser.add_argument("--churn-rate", type=float, default=3)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="server where the soak database is created")
    parser.add_argument("--keep-db", action="store_true", help="use DATABASE_URL as is")
    parser.add_argument("--log-dir", default=tempfile.gettempdir())
    parser.add_argument("--json")
    args = parser.parse_args()

    def interrupted(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # the finally below stops the workers and drops the database

    signal.signal(signal.SIGTERM, interrupted)  # also SIGINT, which a background job ignores
    signal.signal(signal.SIGINT, interrupted)
    tag = uuid.uuid4().hex[:8]
    env = {**os.environ, "LOG_LEVEL": "WARNING", "FPM_ENV": f"soak-{tag}",
           "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
           "JWT_SECRET": os.environ.get("JWT_SECRET", secrets.token_urlsafe(48)),
           # 300 sockets of 6 users: far over the per-user cap meant for real users.
           "SOCKET_MAX_PER_USER": "1000"}
    db_name = ""
    if not args.keep_db:
        db_name = f"fpm_soak_{tag}"
        asyncio.run(_database(args.pg, db_name, create=True))
        env["DATABASE_URL"] = urlunsplit(urlsplit(args.pg)._replace(path="/" + db_name))
    workers: Workers | None = None
    try:
        subprocess.run([sys.executable, "-m", "server", "migrate"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        admin = User(f"soak-admin-{tag}@example.com")
        subprocess.run([sys.executable, "-m", "server", "create-admin", "--org", f"soak-{tag}",
                        "--email", admin.email, "--password", PASSWORD], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        workers = Workers(env, 2, Path(args.log_dir), tag)
        report: dict[str, Any] = {"machine": machine(), "args": vars(args),
                                  "worker_logs": [log.name for log in workers.logs],
                                  "malloc_tuning": env.get("FPM_MALLOC_TUNING", "on")}
        report.update(asyncio.run(run(args, workers, admin, urlsplit(env["DATABASE_URL"]).port
                                      or 5432, urlsplit(env["REDIS_URL"]).port or 6379)))
        report["load_after"] = os.getloadavg()
    finally:
        if workers is not None:
            workers.stop()
        if db_name:
            asyncio.run(_database(args.pg, db_name, create=False))
        asyncio.run(_drop_keys(env["REDIS_URL"], f"fpm:{env['FPM_ENV']}:"))
    # Fewer sockets at the end than at warm-up would hide growth: the fleet must stay whole.
    fleet = [s["fleet_connected"] for s in report["samples"] if s["t"] >= args.warmup * 60]
    report["fleet_connected_min_after_warmup"] = min(fleet, default=0)
    ok = (report["growth"].get("ok") and report["result"]["http_5xx"] == 0
          and min(fleet, default=0) >= 0.95 * args.clients)
    print(table(report))
    print(json.dumps({k: v for k, v in report.items() if k != "samples"}, indent=2))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
