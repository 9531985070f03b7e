"""Read path with and without the cache: GET /api/v1/tasks/{id} cold (CACHE_ENABLED=false),
warm (cache hits), and the ceiling — a plain aiohttp handler answering a Redis GET of the
same JSON — in one run.

Servers run as separate processes pinned to core 0; wrk runs pinned to core 1. The script
creates its own database (and drops it), a user, a project and a task, and signs in once.

    .venv/bin/python bench/cache_read.py [--seconds 10] [--connections 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from db.migrate import upgrade  # noqa: E402
from server.auth.passwords import hash_password  # noqa: E402
from server.embedded import with_database  # noqa: E402

PASSWORD = "Bench parolası 2026"
LUA = 'wrk.headers["Authorization"] = "Bearer {token}"\n'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def prepare(url: str) -> str:
    """One org, admin, project and task; returns the task id."""
    conn = await asyncpg.connect(url)
    try:
        org = await conn.fetchval("INSERT INTO organizations (name, slug) VALUES ('B', 'b') "
                                  "RETURNING id")
        user = await conn.fetchval(
            "INSERT INTO users (org_id, email, password_hash, first_name, last_name, role) "
            "VALUES ($1, 'bench@example.test', $2, 'B', 'U', 'project_manager') RETURNING id",
            org, await hash_password(PASSWORD))
        project = await conn.fetchval("INSERT INTO projects (org_id, name, type, created_by) "
                                      "VALUES ($1, 'Bench', 'fit_out', $2) RETURNING id",
                                      org, user)
        await conn.execute("INSERT INTO project_members (org_id, project_id, user_id, role) "
                           "VALUES ($1, $2, $3, 'project_manager')", org, project, user)
        return str(await conn.fetchval(
            "INSERT INTO tasks (org_id, project_id, name, description) VALUES ($1, $2, "
            "'Install the reception desk', $3) RETURNING id", org, project, "x" * 300))
    finally:
        await conn.close()


def start(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["taskset", "-c", "0", *cmd], env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server on {port} did not start: {cmd}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def login(port: int) -> str:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/auth/login", method="POST",
        data=json.dumps({"email": "bench@example.test", "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
        return str(json.load(answer)["access_token"])


def fetch(port: int, task: str, token: str) -> bytes:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/tasks/{task}",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
        return bytes(answer.read())


def wrk(url: str, lua: Path, seconds: int, connections: int) -> tuple[float, float]:
    """(requests/s, p99 ms) from wrk pinned to core 1."""
    subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c", str(connections), "-d", "2s",
                    "-s", str(lua), url], capture_output=True, check=True)  # warm-up
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c", str(connections), "-d",
                          f"{seconds}s", "--latency", "-s", str(lua), url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([0-9.]+)(us|ms|s)", out)
    assert p99 is not None, out
    factor = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    if "Non-2xx" in out:
        raise RuntimeError(f"errors during the run: {out}")
    return rps, float(p99.group(1)) * factor


CEILING = '''
import sys
import redis.asyncio as aioredis
from aiohttp import web
client = aioredis.from_url(sys.argv[2])
async def task(request):
    return web.Response(body=await client.get(sys.argv[3]), content_type="application/json")
async def health(request):
    return web.Response(text="ok")
app = web.Application()
app.add_routes([web.get("/api/v1/tasks/{id}", task), web.get("/health", health)])
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
'''


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    name = f"fpm_bench_cache_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(args.dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(args.dsn, name)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        await asyncio.to_thread(upgrade, url)
        task = await prepare(url)
        env = {"DATABASE_URL": url, "REDIS_URL": args.redis, "JWT_SECRET": "b" * 48,
               "FPM_ENV": name, "LOG_LEVEL": "WARNING", "DATA_DIR": tempfile.mkdtemp()}
        ports = {"cold": free_port(), "warm": free_port(), "ceiling": free_port()}
        exe = str(Path(sys.executable).with_name("formula-pm"))
        procs.append(start([exe, "serve", "--port", str(ports["cold"])],
                           {**env, "CACHE_ENABLED": "false"}, ports["cold"]))
        procs.append(start([exe, "serve", "--port", str(ports["warm"])], env, ports["warm"]))
        token = await asyncio.to_thread(login, ports["warm"])
        lua = Path(tempfile.mkdtemp()) / "auth.lua"
        lua.write_text(LUA.format(token=token))
        body = await asyncio.to_thread(fetch, ports["warm"], task, token)
        import redis

        key = f"fpm:{name}:ceiling"
        await asyncio.to_thread(redis.Redis.from_url(args.redis).set, key, body)
        script = Path(tempfile.mkdtemp()) / "ceiling.py"
        script.write_text(CEILING)
        procs.append(start([sys.executable, str(script), str(ports["ceiling"]), args.redis,
                            key], {}, ports["ceiling"]))
        results: dict[str, list[tuple[float, float]]] = {k: [] for k in ports}
        for _ in range(args.rounds):
            for case, port in ports.items():
                results[case].append(await asyncio.to_thread(
                    wrk, f"http://127.0.0.1:{port}/api/v1/tasks/{task}", lua, args.seconds,
                    args.connections))
        report(results, args, len(body))
    finally:
        for proc in procs:
            stop(proc)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def report(results: dict[str, list[tuple[float, float]]], args: argparse.Namespace,
           size: int) -> None:
    load = os.getloadavg()
    print(f"{args.rounds} rounds x {args.seconds} s, {args.connections} connections, "
          f"body {size} bytes, load average now {load[0]:.2f}")
    print("| case | requests/s (median) | runs | p99 ms (median) | ratio to ceiling |")
    print("|---|---:|---|---:|---:|")
    ceiling = statistics.median(r for r, _ in results["ceiling"])
    for case, runs in results.items():
        rps = statistics.median(r for r, _ in runs)
        p99 = statistics.median(p for _, p in runs)
        shown = ", ".join(f"{r:,.0f}" for r, _ in runs)
        print(f"| {case} | {rps:,.0f} | {shown} | {p99:.1f} | {rps / ceiling:.2f} |")
    warm = statistics.median(r for r, _ in results["warm"])
    cold = statistics.median(r for r, _ in results["cold"])
    print(f"warm / cold = {warm / cold:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
