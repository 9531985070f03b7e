"""Throughput and latency of `GET /api/v1/tasks/{id}`: no cache, cache hits, and a ceiling.

Standalone: creates a database fpm_bench_cache_<random>, migrates it, seeds one organisation,
one project manager who is a member of one project, and one task in it; starts three servers
as separate processes pinned to one core:

- cold: `formula-pm serve` with CACHE_ENABLED=false (every read goes to PostgreSQL),
- warm: `formula-pm serve` with the Redis cache (after the first read, cache hits),
- ceiling: a plain aiohttp handler (this script, `--ceiling-server`) answering with one
  Redis GET of the same JSON text, no auth, no middleware;

and drives each with `wrk` pinned to another core (fixed connections and duration, after a
warm-up), in interleaved rounds. Redis is the local one under a unique FPM_ENV prefix, whose
keys are deleted at the end, as is the database.

    .venv/bin/python bench/cache_read.py [--rounds 3] [--duration 15] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from cli.embedded import with_database
from db.migrate import upgrade_async
from db.pool import create_pool, system_transaction
from server.auth.passwords import hash_password

ROOT = Path(__file__).resolve().parents[1]
LUA = Path(__file__).with_name("cache_read.lua")
PASSWORD = "bench-" + secrets.token_hex(8)
CASES = ("cold", "warm", "ceiling")


def machine() -> dict[str, str]:
    cpu = "unknown"
    found = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    cpu = found.group(1).strip() if found else cpu
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "python": platform.python_version(),
            "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}


# --- the ceiling: one Redis GET per request, nothing else ------------------------------------

def ceiling_server(port: int, redis_url: str, key: str) -> None:
    # The client is configured exactly as the app's (server/app.py).
    client = aioredis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0,
                               health_check_interval=10)

    async def handler(request: web.Request) -> web.Response:
        raw = await client.get(key)
        return web.Response(body=raw, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/v1/tasks/{id}", handler)

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/health", health)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# --- setup ----------------------------------------------------------------------------------

async def admin_exec(admin_dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def seed(dsn: str) -> dict[str, Any]:
    """One org, a project manager, one project with them as member, one task."""
    pool = await create_pool(dsn, min_size=1, max_size=1)
    try:
        async with system_transaction(pool) as conn:
            org = await conn.fetchval("INSERT INTO organizations (name, slug) "
                                      "VALUES ('Bench Fit-Out', 'bench') RETURNING id")
            email = "pm@bench.test"
            user = await conn.fetchval(
                "INSERT INTO users (org_id, email, password_hash, first_name, last_name, role, "
                "status) VALUES ($1, $2, $3, 'Deniz', 'Yılmaz', 'project_manager', 'active') "
                "RETURNING id", org, email, await hash_password(PASSWORD))
            project = await conn.fetchval(
                "INSERT INTO projects (org_id, name, type) VALUES ($1, 'Levent Tower 12F', "
                "'fit_out') RETURNING id", org)
            await conn.execute("INSERT INTO project_members (org_id, project_id, user_id, role) "
                               "VALUES ($1, $2, $3, 'project_manager')", org, project, user)
            task = await conn.fetchval(
                """INSERT INTO tasks (org_id, project_id, name, description, priority,
                   assigned_to, created_by, start_date, due_date, estimated_hours, category,
                   tags) VALUES ($1, $2, 'Install reception desk joinery',
                   'Walnut veneer panels, concealed fixings; check site dimensions first.',
                   'high', $3, $3, '2025-03-01', '2025-03-14', 24.5, 'joinery',
                   '{joinery,reception}') RETURNING id""", org, project, user)
    finally:
        await pool.close()
    return {"email": email, "task": str(task)}


class Server:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], cpu: str,
                 log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log_dir / f"{name}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                ["taskset", "-c", cpu, *argv, "--port", str(self.port)],
                cwd=ROOT, env={**os.environ, **env, "PORT": str(self.port)},
                stdout=out, stderr=subprocess.STDOUT)

    async def ready(self, limit: float = 60) -> None:
        deadline = time.monotonic() + limit
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} died: {self.log.read_text()[-2000:]}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{self.url}/health") as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def servers(args: argparse.Namespace, dsn: str, env_name: str, ceiling_key: str,
            log_dir: Path) -> Iterator[dict[str, Server]]:
    formula_pm = str(Path(sys.executable).with_name("formula-pm"))
    common = {"DATABASE_URL": dsn, "REDIS_URL": args.redis_url, "FPM_ENV": env_name,
              "JWT_SECRET": secrets.token_urlsafe(48), "LOG_LEVEL": "WARNING",
              "DATA_DIR": str(log_dir), "ACCESS_TOKEN_TTL": "3600"}
    started: dict[str, Server] = {}
    try:
        for name, extra in (("cold", {"CACHE_ENABLED": "false"}), ("warm", {})):
            started[name] = Server(name, [formula_pm, "serve"], {**common, **extra},
                                   args.server_cpu, log_dir)
        started["ceiling"] = Server(
            "ceiling", [sys.executable, __file__, "--ceiling-server", "--redis-url",
                        args.redis_url, "--ceiling-key", ceiling_key],
            {}, args.server_cpu, log_dir)
        yield started
    finally:
        for server in started.values():
            server.stop()


# --- measuring ------------------------------------------------------------------------------

async def wrk(args: argparse.Namespace, url: str, token: str, seconds: int) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        "taskset", "-c", args.load_cpu, "wrk", "-t1", f"-c{args.connections}",
        f"-d{seconds}s", "--timeout", "5s", "-s", str(LUA), url,
        env={**os.environ, "BENCH_TOKEN": token},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    lines = [line for line in out.decode().splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed: {out.decode()} {err.decode()}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def metrics(url: str) -> dict[str, float]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as response:
        text = await response.text()
    return {m[1]: float(m[2])
            for m in re.finditer(r"^fpm_cache_(hits|misses|errors)_total (\S+)$", text, re.M)}


async def sign_in_and_check(run: dict[str, Server], seeded: dict[str, Any],
                            redis_url: str, ceiling_key: str) -> str:
    """A token from a real login; the same task JSON from cold and warm; the ceiling's copy."""
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{run['warm'].url}/api/v1/auth/login",
                             json={"email": seeded["email"], "password": PASSWORD}) as r:
            assert r.status == 200, await r.text()
            token = str((await r.json())["access_token"])
        headers = {"Authorization": f"Bearer {token}"}
        bodies = {}
        for name in ("cold", "warm", "warm"):
            async with http.get(f"{run[name].url}/api/v1/tasks/{seeded['task']}",
                                headers=headers) as r:
                assert r.status == 200, await r.text()
                bodies[name] = await r.text()
    assert json.loads(bodies["cold"]) == json.loads(bodies["warm"])
    client = aioredis.from_url(redis_url)
    await client.set(ceiling_key, bodies["warm"])
    await client.aclose()
    return token


async def measure(args: argparse.Namespace, run: dict[str, Server], task: str,
                  token: str) -> dict[str, list[dict[str, Any]]]:
    results: dict[str, list[dict[str, Any]]] = {case: [] for case in CASES}
    for round_no in range(1, args.rounds + 1):
        for case in CASES:
            url = f"{run[case].url}/api/v1/tasks/{task}"
            await wrk(args, url, token, args.warmup)
            spy = None
            if args.profile and case != "cold" and round_no == args.rounds:
                spy = await asyncio.create_subprocess_exec(
                    str(Path(sys.executable).with_name("py-spy")), "record", "--format", "raw",
                    "--rate", "250", "-o", f"{args.profile}-{case}.txt", "-d", str(args.duration),
                    "-p", str(run[case].process.pid), stdout=asyncio.subprocess.DEVNULL)
            cpu = cpu_seconds(run[case].process.pid)
            result = await wrk(args, url, token, args.duration)
            result["cpu_us"] = (cpu_seconds(run[case].process.pid) - cpu) / result["requests"] * 1e6
            if spy is not None:
                await spy.wait()
            result["load"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
            results[case].append(result)
            print(f"round {round_no} {case:8} {result['rps']:8.1f} req/s  "
                  f"p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms  "
                  f"server CPU {result['cpu_us']:5.0f} µs/req  "
                  f"errors {result['non2xx'] + result['timeout'] + result['read']}  "
                  f"load {result['load']}", flush=True)
    return results


def report(results: dict[str, list[dict[str, Any]]], env: dict[str, str], end_uptime: str,
           args: argparse.Namespace, cache: dict[str, dict[str, float]]) -> str:
    med = {c: statistics.median(r["rps"] for r in rs) for c, rs in results.items()}
    lines = [f"- machine: {env['nproc']} cores, {env['cpu']}, Python {env['python']}",
             f"- uptime at start: `{env['uptime']}`", f"- uptime at end: `{end_uptime}`",
             f"- servers pinned to CPU {args.server_cpu}, wrk (1 thread, "
             f"{args.connections} connections) to CPU {args.load_cpu}; PostgreSQL and Redis "
             f"unpinned; {args.rounds} interleaved rounds of {args.warmup} s warm-up + "
             f"{args.duration} s measured per case", "",
             "| case | req/s (median) | req/s runs | p50 ms (runs) | p99 ms (runs) | "
             "server CPU µs/req (runs) | errors |",
             "|---|---:|---|---|---|---|---:|"]
    for case, runs in results.items():
        errors = sum(r["non2xx"] + r["timeout"] + r["read"] + r["connect"] for r in runs)
        rps = " / ".join(f"{r['rps']:,.0f}" for r in runs)
        p50 = " / ".join(f"{r['p50_ms']:.2f}" for r in runs)
        p99 = " / ".join(f"{r['p99_ms']:.2f}" for r in runs)
        cpu = " / ".join(f"{r['cpu_us']:.0f}" for r in runs)
        lines.append(f"| {case} | {med[case]:,.0f} | {rps} | {p50} | {p99} | {cpu} | {errors} |")
    used = {c: statistics.median(r["cpu_us"] for r in rs) for c, rs in results.items()}
    lines += ["", f"- throughput: warm / ceiling = {med['warm'] / med['ceiling']:.2f}; "
              f"warm / cold = {med['warm'] / med['cold']:.2f} (medians)",
              f"- server CPU per request: ceiling / warm = "
              f"{used['ceiling'] / used['warm']:.2f}; "
              f"cold / warm = {used['cold'] / used['warm']:.2f} (medians)",
              f"- cache counters after the runs: warm {cache['warm']}, cold {cache['cold']}"]
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> None:
    env = machine()
    suffix = secrets.token_hex(4)
    name, env_name = f"fpm_bench_cache_{suffix}", f"benchcache{suffix}"
    ceiling_key = f"fpm:{env_name}:ceiling"
    await admin_exec(args.admin_dsn, f'CREATE DATABASE "{name}"')
    dsn = with_database(args.admin_dsn, name)
    try:
        await upgrade_async(dsn)
        seeded = await seed(dsn)
        with tempfile.TemporaryDirectory() as tmp, \
                servers(args, dsn, env_name, ceiling_key, Path(tmp)) as run:
            for server in run.values():
                await server.ready()
            token = await sign_in_and_check(run, seeded, args.redis_url, ceiling_key)
            results = await measure(args, run, seeded["task"], token)
            cache = {c: await metrics(run[c].url) for c in ("warm", "cold")}
    finally:
        await admin_exec(args.admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        client = aioredis.from_url(args.redis_url)
        keys = [k async for k in client.scan_iter(match=f"fpm:{env_name}:*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()
    print("\n" + report(results, env, machine()["uptime"], args, cache))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-dsn", default=os.environ.get(
        "BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--redis-url", default=os.environ.get(
        "BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--server-cpu", default="0")
    parser.add_argument("--load-cpu", default="1")
    parser.add_argument("--profile", metavar="PREFIX", help="py-spy record (collapsed "
                        "stacks) of the last warm and ceiling runs into PREFIX-<case>.txt")
    parser.add_argument("--ceiling-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ceiling-key", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.ceiling_server:
        ceiling_server(parsed.port, parsed.redis_url, parsed.ceiling_key)
    else:
        asyncio.run(main(parsed))
