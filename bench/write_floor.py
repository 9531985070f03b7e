"""What one task PATCH costs our worker, against the floor of the same write (issue 25).

The floor is a minimal aiohttp handler in its own process (``--serve-floor``): it checks the
bearer token's signature and claims with PyJWT, and in one asyncpg transaction sets the same
actor settings and runs the same ``UPDATE tasks ... RETURNING *`` (so the same row-level
security and the same audit trigger), then answers the row as JSON. Ours is
``python -m server serve`` (sessions, validation, version checks, invalidation, the change
leader turning the audit rows into events, access log), started the same way.

Both serve the same database, the same tasks and the same users: ``--users`` members of one
project, each signed in through our API with a session of its own; every request is a PATCH
of a random task by a random member with that member's token. A closed loop of
``--concurrency`` connections runs for ``--seconds``, floor and ours alternating
``--repeat`` times; reported per run: requests/s, REST p50/p99 (ms) and the server
process's CPU per request (ms, from /proc: user + system), and the ratios ours/floor.
The load generator is this process, on the same cores: nothing is pinned.

    .venv/bin/python -m bench.write_floor [--users 100] [--tasks 200] [--seconds 10]
        [--concurrency 16] [--repeat 2] [--redis redis://127.0.0.1:6379/0] [--json FILE]
        [--profile FILE]  (py-spy's collapsed stacks of our worker's first run)
        [--measure patch,list,summary]  (reads too: GET /tasks?project_id= (50) and
        GET /projects/{id}/summary against plain asyncpg queries + JSON)
        [--rate 400,600]  (open loop instead, of the first --measure: a window per rate,
        floor and ours, each reporting p50/p99/max from every request's due time, failures
        by status, and the cores the server, PostgreSQL, this process and the machine used)
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fanout_saturation import free_port
from bench.realtime_latency import _ticks, cpu_sample, cpu_used, wait_ready
from cli.embedded import with_database
from db.migrate import upgrade

PASSWORD = "write floor bench password 1"
JWT_SECRET = "write-floor-bench-" + "s" * 40

# --- the floor ---------------------------------------------------------------------------

_FLOOR_SETTINGS = """
SELECT set_config('role', 'formula_pm_app', true), set_config('app.user_id', $1, true),
       set_config('app.org_id', $2, true), set_config('app.request_id', $3, true),
       set_config('app.origin_sid', '', true), set_config('app.ip', $4, true),
       set_config('app.user_agent', $5, true), set_config('app.bulk', '', true)
"""
_FLOOR_UPDATE = """
UPDATE tasks SET progress = $2, version = version + 1, updated_at = clock_timestamp()
WHERE id = $1 RETURNING *
"""
_FLOOR_LIST = """
SELECT * FROM tasks WHERE project_id = $1 ORDER BY created_at DESC, id DESC LIMIT 51
"""
_FLOOR_SUMMARY = "SELECT * FROM project_summary WHERE project_id = $1"


def serve_floor(port: int, dsn: str) -> None:
    import jwt
    from aiohttp import web

    def claims_of(request: web.Request) -> dict[str, Any]:
        _, _, token = request.headers.get("Authorization", "").partition(" ")
        found: dict[str, Any] = jwt.decode(token, JWT_SECRET, algorithms=["HS256"],
                                           audience="formula-pm-api", issuer="formula-pm")
        return found

    async def as_caller(request: web.Request, claims: dict[str, Any], sql: str,
                        *args: Any, many: bool = False) -> Any:
        """One transaction with the caller's settings (the same row-level security)."""
        pool: asyncpg.Pool = request.app["pool"]
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(_FLOOR_SETTINGS, claims["sub"], claims["org"],
                               request.headers.get("X-Request-ID", ""), request.remote or "",
                               request.headers.get("User-Agent", "")[:500])
            return await (conn.fetch(sql, *args) if many else conn.fetchrow(sql, *args))

    def answer(value: Any) -> web.Response:
        if value is None:
            return web.Response(status=404)
        return web.Response(body=json.dumps(value, default=str),
                            content_type="application/json")

    async def patch(request: web.Request) -> web.Response:
        try:
            claims = claims_of(request)
            task_id = uuid.UUID(request.match_info["id"])
            progress = int((await request.json())["progress"])
        except Exception:  # the floor answers any defect with one status
            return web.Response(status=400)
        row = await as_caller(request, claims, _FLOOR_UPDATE, task_id, progress)
        return answer(None if row is None else dict(row))

    async def tasks(request: web.Request) -> web.Response:
        try:
            claims = claims_of(request)
            project_id = uuid.UUID(request.query["project_id"])
        except Exception:  # the floor answers any defect with one status
            return web.Response(status=400)
        rows = await as_caller(request, claims, _FLOOR_LIST, project_id, many=True)
        return answer({"data": [dict(r) for r in rows[:50]], "next_cursor": None})

    async def summary(request: web.Request) -> web.Response:
        try:
            claims = claims_of(request)
            project_id = uuid.UUID(request.match_info["id"])
        except Exception:  # the floor answers any defect with one status
            return web.Response(status=400)
        row = await as_caller(request, claims, _FLOOR_SUMMARY, project_id)
        return answer(None if row is None else dict(row))

    async def pool_ctx(app: web.Application) -> Any:
        app["pool"] = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
        yield
        await app["pool"].close()

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.cleanup_ctx.append(pool_ctx)
    app.router.add_patch("/api/v1/tasks/{id}", patch)
    app.router.add_get("/api/v1/tasks", tasks)
    app.router.add_get("/api/v1/projects/{id}/summary", summary)
    app.router.add_get("/health", health)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# --- the world -----------------------------------------------------------------------------

async def make_world(url: str, users: int, tasks: int) -> tuple[list[str], list[str], str]:
    """One organisation and project, `users` project managers in it, `tasks` tasks: their
    emails and the task ids."""
    from server.auth.passwords import hash_password

    password_hash = await hash_password(PASSWORD)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SET ROLE formula_pm_system")
        org = await conn.fetchval("INSERT INTO organizations (name, slug) VALUES "
                                  "('Floor bench', 'floor-bench') RETURNING id")
        project = await conn.fetchval(
            "INSERT INTO projects (org_id, name, type) VALUES ($1, 'Floor', 'fit_out') "
            "RETURNING id", org)
        emails = [f"member{n}@floor.example" for n in range(users)]
        for email in emails:
            user = await conn.fetchval(
                """INSERT INTO users (org_id, email, password_hash, first_name, last_name,
                                      role, status)
                   VALUES ($1, $2, $3, 'Bench', 'Member', 'project_manager', 'active')
                   RETURNING id""", org, email, password_hash)
            await conn.execute("INSERT INTO project_members (org_id, project_id, user_id, role)"
                               " VALUES ($1, $2, $3, 'project_manager')", org, project, user)
        ids = await conn.fetch(
            "INSERT INTO tasks (org_id, project_id, name) SELECT $1, $2, 'Task ' || n "
            "FROM generate_series(1, $3) n RETURNING id", org, project, tasks)
        return emails, [str(r["id"]) for r in ids], str(project)
    finally:
        await conn.close()


async def sign_in(http: aiohttp.ClientSession, url: str, emails: list[str]) -> list[str]:
    tokens = []
    for email in emails:
        async with http.post(f"{url}/api/v1/auth/login",
                             json={"email": email, "password": PASSWORD}) as resp:
            body = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"sign-in of {email}: {resp.status} {body}")
            tokens.append(body["access_token"])
    return tokens


# --- the load ------------------------------------------------------------------------------

def request_of(measure: str, tasks: list[str], project: str) -> tuple[str, str, Any]:
    """(method, path, body) of one request of `measure`."""
    if measure == "patch":
        return "PATCH", f"/api/v1/tasks/{random.choice(tasks)}", {
            "progress": random.randint(0, 100)}
    if measure == "list":
        return "GET", f"/api/v1/tasks?project_id={project}&limit=50", None
    return "GET", f"/api/v1/projects/{project}/summary", None


async def closed_loop(http: aiohttp.ClientSession, url: str, tokens: list[str],
                      tasks: list[str], seconds: float, concurrency: int, pid: int,
                      measure: str = "patch", project: str = "") -> dict[str, Any]:
    latencies: list[float] = []
    failed = 0
    stop = time.perf_counter() + seconds
    hz = os.sysconf("SC_CLK_TCK")

    async def one_connection() -> None:
        nonlocal failed
        while time.perf_counter() < stop:
            token = random.choice(tokens)
            method, path, body = request_of(measure, tasks, project)
            started = time.perf_counter()
            async with http.request(method, url + path, json=body,
                                    headers={"Authorization": f"Bearer {token}",
                                             "X-Request-ID": secrets.token_hex(8)}) as resp:
                await resp.read()
                if resp.status != 200:
                    failed += 1
                    continue
            latencies.append(time.perf_counter() - started)

    cpu_before, wall_before = _ticks(pid), time.perf_counter()
    await asyncio.gather(*(one_connection() for _ in range(concurrency)))
    wall = time.perf_counter() - wall_before
    cpu = (_ticks(pid) - cpu_before) / hz
    done = len(latencies)
    return {"requests": done, "failed": failed, "per_second": round(done / wall, 1),
            **_quantiles(latencies), "cpu_ms_per_request": round(1000 * cpu / max(done, 1), 3)}


def _quantiles(latencies: list[float]) -> dict[str, float | None]:
    """p50 and p99 in milliseconds (None when nothing was answered)."""
    ordered = sorted(latencies)
    done = len(ordered)
    return {"p50_ms": round(1000 * ordered[done // 2], 2) if done else None,
            "p99_ms": round(1000 * ordered[min(done - 1, int(done * 0.99))], 2)
            if done else None}


async def open_loop(http: aiohttp.ClientSession, url: str, tokens: list[str],
                    tasks: list[str], seconds: float, rate: float, pid: int,
                    measure: str = "patch", project: str = "") -> dict[str, Any]:
    """Requests sent at `rate` a second whatever the answers (as users send them), for
    `seconds`; latency from each request's scheduled start, so a server that falls behind
    shows it. Also the cores the server, PostgreSQL, this process and the machine used."""
    latencies: list[float] = []
    failures: collections.Counter[str] = collections.Counter()

    async def one(due: float) -> None:
        method, path, body = request_of(measure, tasks, project)
        try:
            async with http.request(method, url + path, json=body,
                                    headers={"Authorization": f"Bearer {random.choice(tokens)}",
                                             "X-Request-ID": secrets.token_hex(8)}) as resp:
                await resp.read()
                status = str(resp.status)
        except aiohttp.ClientError as exc:
            status = type(exc).__name__
        if status == "200":
            latencies.append(time.perf_counter() - due)
        else:
            failures[status] += 1

    count = int(seconds * rate)
    before = cpu_sample([pid])
    start_at = time.perf_counter()
    pending = []
    for n in range(count):
        due = start_at + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        pending.append(asyncio.create_task(one(due)))
    await asyncio.gather(*pending)
    used = cpu_used(before, cpu_sample([pid]), count)
    return {"rate": rate, "requests": len(latencies), "failed": dict(failures),
            **_quantiles(latencies),
            "max_ms": round(1000 * max(latencies), 2) if latencies else None,
            "cpu_ms_per_request": used["worker_ms_per_write"],
            "cores": {("server" if k == "workers" else k): v
                      for k, v in used["cores"].items()}}


async def rates(http: aiohttp.ClientSession, targets: dict[str, tuple[str, int]],
                tokens: list[str], tasks: list[str], args: argparse.Namespace, measure: str,
                project: str) -> None:
    """`--rate`: floor and ours in turn (`--repeat` times), one open-loop window per rate."""
    runs: list[dict[str, Any]] = []
    for rate in (float(r) for r in args.rate.split(",")):
        for r in range(args.repeat):
            for which in (("floor", "ours") if r % 2 == 0 else ("ours", "floor")):
                target, pid = targets[which]
                result = {"server": which, **await open_loop(
                    http, target, tokens, tasks, args.seconds, rate, pid, measure, project)}
                runs.append(result)
                print(json.dumps(result), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(  # noqa: ASYNC240 - at the end
            {"machine": f"{platform.machine()}, {os.cpu_count()} cpu(s)", "users": args.users,
             "tasks": args.tasks, "seconds": args.seconds, "redis": bool(args.redis),
             "measure": measure, "open_loop": runs}, indent=2))


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)


async def main(args: argparse.Namespace) -> None:
    name = f"fpm_bench_floor_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(args.dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = with_database(args.dsn, name)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        await asyncio.to_thread(upgrade, url)
        emails, tasks, project = await make_world(url, args.users, args.tasks)
        env = {**os.environ, "DATABASE_URL": url, "JWT_SECRET": JWT_SECRET,
               "LOG_LEVEL": "WARNING", "DATA_DIR": tempfile.mkdtemp(prefix=name)}
        env.pop("REDIS_URL", None)
        if args.redis:
            env["REDIS_URL"] = args.redis
        ours_port, floor_port = free_port(), free_port()
        ours = start([sys.executable, "-m", "server", "serve", "--port", str(ours_port)], env)
        floor = start([sys.executable, "-m", "bench.write_floor", "--serve-floor",
                       "--port", str(floor_port), "--dsn", url], env)
        procs = [ours, floor]
        targets = {"floor": (f"http://127.0.0.1:{floor_port}", floor.pid),
                   "ours": (f"http://127.0.0.1:{ours_port}", ours.pid)}
        # Open loop: as many connections as requests in flight (a client never queues).
        connector = aiohttp.TCPConnector(limit=0 if args.rate else args.concurrency)
        async with aiohttp.ClientSession(connector=connector) as http:
            for target, _ in targets.values():
                await wait_ready(http, target, 60)
            tokens = await sign_in(http, targets["ours"][0], emails)
            measures = args.measure.split(",")
            for target, pid in targets.values():  # warm both: statements, caches, sessions
                for measure in measures:
                    await closed_loop(http, target, tokens, tasks, 2, args.concurrency, pid,
                                      measure, project)
            if args.rate:
                await rates(http, targets, tokens, tasks, args, measures[0], project)
                return
            runs: dict[str, list[dict[str, Any]]] = {}
            # Per measure, floor and ours alternate, each going first every other round.
            for measure, which in [(m, w) for m in measures for r in range(args.repeat)
                                   for w in (("floor", "ours") if r % 2 == 0
                                             else ("ours", "floor"))]:
                target, pid = targets[which]
                load = os.getloadavg()[0]
                spy = None
                if args.profile and which == "ours" and f"ours {measure}" not in runs:
                    # Sampled profile of our worker during its first run (py-spy,
                    # not a dependency of the project: `pip install py-spy`).
                    spy = subprocess.Popen(  # noqa: ASYNC220 - started once, not awaited
                        ["py-spy", "record", "--pid", str(pid), "--format", "raw",
                         "--rate", "250", "--duration", str(int(args.seconds)),
                         "--output", args.profile, "--nonblocking", "--gil"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                result = await closed_loop(http, target, tokens, tasks, args.seconds,
                                           args.concurrency, pid, measure, project)
                result["load_before"] = round(load, 2)
                if spy is not None:
                    spy.wait(30)
                runs.setdefault(f"{which} {measure}", []).append(result)
                print(f"{which:5} {measure:7}: {json.dumps(result)}", flush=True)
        summary = {name: {key: statistics.median(r[key] for r in results)
                          for key in ("per_second", "p50_ms", "p99_ms", "cpu_ms_per_request")}
                   for name, results in runs.items()}
        ratio = {measure: {key: round(summary[f"ours {measure}"][key]
                                      / summary[f"floor {measure}"][key], 2)
                           for key in summary[f"ours {measure}"]
                           if summary[f"floor {measure}"][key]}
                 for measure in measures}
        report = {"machine": f"{platform.machine()}, {os.cpu_count()} cpu(s)",
                  "users": args.users, "tasks": args.tasks, "concurrency": args.concurrency,
                  "seconds": args.seconds, "redis": bool(args.redis), "median": summary,
                  "ratio_ours_to_floor": ratio, "runs": runs}
        print(json.dumps({k: report[k] for k in report if k != "runs"}, indent=2))
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2))  # noqa: ASYNC240 - at the end
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        admin = await asyncpg.connect(args.dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default=os.environ.get(
        "BENCH_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--redis", help="REDIS_URL for our worker (default: none)")
    parser.add_argument("--measure", default="patch",
                        help="comma-separated: patch (a task PATCH), list (a page of 50 "
                             "tasks), summary (a project's summary)")
    parser.add_argument("--rate", help="open loop instead: requests a second, one window "
                                       "per comma-separated rate (floor and ours each)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--profile", metavar="FILE",
                        help="py-spy samples of our worker's first run (collapsed stacks)")
    parser.add_argument("--serve-floor", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.serve_floor:
        serve_floor(parsed.port, parsed.dsn)
    else:
        asyncio.run(main(parsed))
