"""Deliveries per second to one room of 1,000 clients: stock Socket.IO, plain websockets, fast.

``python -m bench.fanout_saturation [--clients 1000] [--events 60] [--repeat 3]
[--modes stock,plain,fast]``. Each server (bench/fanout_server.py) runs in its own process
pinned to core 0; this process, pinned to core 1, holds the clients (bench/mini_client.py:
websocket-only Engine.IO v4 / Socket.IO v5, or bare websockets for ``plain``). Per run the
server emits N events back to back to the room; the run ends when every client has every
event. Deliveries/s = clients x N / (last receipt - blast request); server CPU per
delivery = server process CPU time over the run / deliveries.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiohttp

from bench.mini_client import MiniClient, Tally, connect_many
from bench.raw_client import open_raw

SERVER_CPU, CLIENT_CPU = 0, 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(mode: str, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "bench.fanout_server", "--mode", mode,
                             "--port", str(port), "--cpu", str(SERVER_CPU)])
    if os.environ.get("FANOUT_PYSPY"):  # profile the server: collapsed stacks per mode
        subprocess.Popen(["py-spy", "record", "--pid", str(proc.pid), "--format", "raw",
                          "--rate", "500", "-o", f"{os.environ['FANOUT_PYSPY']}-{mode}.txt"])
    return proc


async def start_server(mode: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = spawn(mode, port)
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(url + "/bench/stats") as resp:
                    if resp.status == 200:
                        return proc, url
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{mode} server did not start")


async def stats(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(url + "/bench/stats") as resp:
        return dict(await resp.json())


async def one_run(session: aiohttp.ClientSession, url: str, tally: Tally, clients: int,
                  events: int) -> dict[str, float]:
    before = await stats(session, url)
    tally.expect(clients * events)
    start, client_cpu = time.perf_counter(), time.process_time()
    async with session.post(url + f"/bench/blast?n={events}") as resp:
        resp.raise_for_status()
    await asyncio.wait_for(tally.done.wait(), timeout=300)
    wall = tally.last - start
    client_cpu = time.process_time() - client_cpu
    after = await stats(session, url)
    cpu = after["cpu"] - before["cpu"]
    deliveries = clients * events
    return {"deliveries_per_s": deliveries / wall, "cpu_us_per_delivery": cpu / deliveries * 1e6,
            "server_cpu_share": cpu / wall, "client_cpu_share": client_cpu / wall, "wall_s": wall,
            "fallback_share": (after["fallback"] - before["fallback"]) / deliveries}


async def open_clients(kind: str, session: aiohttp.ClientSession, url: str, count: int,
                       tally: Tally, plain: bool) -> list[Any]:
    if kind == "raw":
        return await open_raw(int(url.rsplit(":", 1)[1]), count, tally, plain=plain)
    return await connect_many(session, url, count, tally=tally, plain=plain)


class Target:
    """One server under test with its clients connected."""

    def __init__(self, mode: str, proc: subprocess.Popen[bytes], url: str) -> None:
        self.mode, self.proc, self.url = mode, proc, url
        self.tally = Tally()
        self.conns: list[Any] = []
        self.runs: list[dict[str, float]] = []


async def prepare(mode: str, session: aiohttp.ClientSession,
                  args: argparse.Namespace) -> Target:
    target = Target(mode, *await start_server(mode))
    target.conns = await open_clients(args.client, session, target.url, args.clients,
                                      target.tally, plain=mode == "plain")
    for _ in range(600):  # the server counts its clients once connected
        if (await stats(session, target.url))["clients"] >= args.clients:
            break
        await asyncio.sleep(0.05)
    await one_run(session, target.url, target.tally, args.clients, 5)  # warm-up
    return target


async def measure_modes(modes: list[str], args: argparse.Namespace) -> list[Target]:
    """All servers up at once; rounds alternate between them so load drifts hit all alike."""
    targets: list[Target] = []
    connector = aiohttp.TCPConnector(limit=0)
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            for mode in modes:
                targets.append(await prepare(mode, session, args))
            for _ in range(args.repeat):
                for target in targets:
                    target.runs.append(await one_run(session, target.url, target.tally,
                                                     args.clients, args.events))
            for target in targets:
                for conn in target.conns:
                    await conn.close() if kind_is_async(conn) else conn.close()
        return targets
    finally:
        for target in targets:
            target.proc.kill()  # no graceful shutdown: it would wait for every websocket
            target.proc.wait(10)


def kind_is_async(conn: Any) -> bool:
    return isinstance(conn, MiniClient)


def machine() -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                  if line.startswith("model name")), "?")
    mem = next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    return {"nproc": os.cpu_count(), "cpu": model, "ram_gib": round(int(mem) / 2**20, 1),
            "python": platform.python_version(),
            "libs": {n: version(n) for n in ("python-socketio", "python-engineio", "aiohttp")},
            "load_before": os.getloadavg()}


def summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    rates = [r["deliveries_per_s"] for r in runs]
    cpus = [r["cpu_us_per_delivery"] for r in runs]
    return {"deliveries_per_s": {"median": statistics.median(rates), "min": min(rates),
                                 "max": max(rates)},
            "cpu_us_per_delivery": {"median": statistics.median(cpus), "min": min(cpus),
                                    "max": max(cpus)},
            "server_cpu_share": statistics.median(r["server_cpu_share"] for r in runs),
            "client_cpu_share": statistics.median(r["client_cpu_share"] for r in runs),
            "runs": runs}


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    os.sched_setaffinity(0, {CLIENT_CPU})
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    report: dict[str, Any] = {"machine": machine(), "clients": args.clients,
                              "client": args.client, "events_per_run": args.events, "modes": {}}
    targets = await measure_modes(args.modes.split(","), args)
    for target in targets:
        report["modes"][target.mode] = summary(target.runs)
    plain = report["modes"].get("plain")
    for result in report["modes"].values():
        result["capacity_per_core"] = 1e6 / result["cpu_us_per_delivery"]["median"]
        if plain:  # per round, against the plain run of the same round
            pairs = list(zip(result["runs"], plain["runs"], strict=True))
            result["ratio_to_plain"] = statistics.median(
                r["deliveries_per_s"] / p["deliveries_per_s"] for r, p in pairs)
            result["cpu_ratio_to_plain"] = statistics.median(
                p["cpu_us_per_delivery"] / r["cpu_us_per_delivery"] for r, p in pairs)
    report["load_after"] = os.getloadavg()
    return report


def show(report: dict[str, Any]) -> None:
    print(f"load before {report['machine']['load_before']}, after {report['load_after']}")
    for mode, result in report["modes"].items():
        print(f"{mode:>10}: deliveries/s " + " ".join(
            f"{r['deliveries_per_s']:,.0f}" for r in result["runs"])
            + " | server CPU us/delivery " + " ".join(
            f"{r['cpu_us_per_delivery']:.1f}" for r in result["runs"])
            + f" | CPU share server {result['server_cpu_share']:.2f}"
            + f" client {result['client_cpu_share']:.2f}"
            + (" | fallback " + " ".join(f"{r['fallback_share']:.0%}" for r in result["runs"])
               if mode.startswith("fast") else "")
            + f" | per full core {result['capacity_per_core']:,.0f}/s"
            + (f" | x plain: rate {result['ratio_to_plain']:.2f},"
               f" CPU {result['cpu_ratio_to_plain']:.2f}" if "ratio_to_plain" in result else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--events", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--modes", default="stock,plain,fast")
    parser.add_argument("--client", choices=["raw", "aiohttp"], default="raw",
                        help="raw: bench/raw_client.py; aiohttp: bench/mini_client.py")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    report = asyncio.run(measure(args))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    show(report)


if __name__ == "__main__":
    main()
