"""Server memory per idle Socket.IO websocket connection: RSS delta / N on one process.

``python -m bench.idle_memory [--counts 1000,5000] [--repeat 3]
[--configs stock,fast,plain,stock+deflate,fast+deflate]``. Each measurement starts a fresh
server (bench/fanout_server.py, pinned to core 0) whose connect handler does what the hub
does per socket (session dict saved, a room entered), opens 50 warm-up connections, reads
RSS after a gc, opens N more from this process (core 1) with bench/raw_client.py, waits
until the server counts them and a second more, and reads RSS after a gc again.
``+deflate``: the clients offer permessage-deflate, as browsers do.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
from pathlib import Path
from typing import Any

import aiohttp

from bench.fanout_saturation import CLIENT_CPU, machine, start_server, stats
from bench.mini_client import Tally
from bench.raw_client import RawSocketIO, open_raw

WARM = 50


async def rss_after_gc(session: aiohttp.ClientSession, url: str) -> int:
    async with session.post(url + "/bench/gc") as resp:
        return int((await resp.json())["rss"])


async def wait_clients(session: aiohttp.ClientSession, url: str, count: int) -> None:
    for _ in range(1200):
        if (await stats(session, url))["clients"] >= count:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"server never counted {count} clients")


async def one(config: str, count: int) -> float:
    """Bytes of server RSS per idle connection."""
    mode, _, offer = config.partition("+")
    proc, url = await start_server(mode)
    port, plain, deflate = int(url.rsplit(":", 1)[1]), mode == "plain", offer == "deflate"
    conns: list[RawSocketIO] = []
    try:
        async with aiohttp.ClientSession() as session:
            conns += await open_raw(port, WARM, Tally(), plain=plain, deflate=deflate)
            await wait_clients(session, url, WARM)
            before = await rss_after_gc(session, url)
            conns += await open_raw(port, count, Tally(), plain=plain, deflate=deflate)
            await wait_clients(session, url, WARM + count)
            await asyncio.sleep(1)
            after = await rss_after_gc(session, url)
        return (after - before) / count
    finally:
        for conn in conns:
            conn.close()
        proc.kill()  # no graceful shutdown: it would wait for every websocket
        proc.wait(10)


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    os.sched_setaffinity(0, {CLIENT_CPU})
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    report: dict[str, Any] = {"machine": machine(), "results": {}}
    for count in (int(c) for c in args.counts.split(",")):
        for config in args.configs.split(","):
            per = [await one(config, count) for _ in range(args.repeat)]
            report["results"][f"{config} N={count}"] = {
                "bytes_per_connection": per, "median_kb": statistics.median(per) / 1000}
            print(f"{config:>14} N={count}: " + " ".join(f"{b / 1000:.1f}" for b in per)
                  + " kB per connection", flush=True)
    report["load_after"] = os.getloadavg()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--counts", default="1000,5000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--configs", default="stock,fast,plain,stock+deflate,fast+deflate")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    report = asyncio.run(measure(args))
    print(f"load before {report['machine']['load_before']}, after {report['load_after']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
