"""What the soak run samples from each worker: RSS, open fds by kind, sockets, 5xx.

RSS is ``VmRSS`` of ``/proc/PID/status``. Open fds are the entries of ``/proc/PID/fd``;
sockets among them are matched by inode against ``/proc/PID/net/tcp{,6}`` and split into
``clients`` (accepted on the worker's own port: REST keep-alives and Socket.IO),
``postgres`` and ``redis`` (by remote port) and ``other``; everything else is ``files``
(files, pipes, epoll, eventfds). Connected Socket.IO sockets and the worker's own 5xx
count come from its ``/metrics``.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import aiohttp

FD_KINDS = ("clients", "postgres", "redis", "other_sockets", "files")


def rss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _tcp_ports(pid: int) -> dict[str, tuple[int, int]]:
    """Socket inode -> (local port, remote port) for the process's TCP sockets."""
    ports: dict[str, tuple[int, int]] = {}
    for name in ("tcp", "tcp6"):
        try:
            lines = open(f"/proc/{pid}/net/{name}").read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            local, remote, inode = cols[1], cols[2], cols[9]
            ports[inode] = (int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16))
    return ports


def fds(pid: int, own_port: int, pg_port: int, redis_port: int) -> dict[str, int]:
    counts = dict.fromkeys(FD_KINDS, 0)
    ports = _tcp_ports(pid)
    base = f"/proc/{pid}/fd"
    for fd in os.listdir(base):
        try:
            target = os.readlink(f"{base}/{fd}")
        except OSError:  # closed between listdir and readlink
            continue
        if not target.startswith("socket:["):
            counts["files"] += 1
            continue
        local, remote = ports.get(target[8:-1], (0, 0))
        if local == own_port and remote:
            counts["clients"] += 1
        elif remote == pg_port:
            counts["postgres"] += 1
        elif remote == redis_port:
            counts["redis"] += 1
        else:
            counts["other_sockets"] += 1
    counts["total"] = sum(counts[k] for k in FD_KINDS)
    return counts


async def scrape(http: aiohttp.ClientSession, url: str) -> dict[str, float]:
    """The worker's /metrics as {name: value} (labels kept in the name)."""
    async with http.get(url + "/metrics") as resp:
        text = await resp.text()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def server_5xx(metrics: dict[str, float]) -> float:
    return sum(v for k, v in metrics.items()
               if k.startswith("fpm_http_requests_total") and 'status="5' in k)


async def sample(http: aiohttp.ClientSession, workers: list[tuple[int, str, int]],
                 started: float, pg_port: int, redis_port: int) -> dict[str, Any]:
    """One sample of every worker: [(pid, url, port)] -> a JSON-able row."""
    rows = []
    for pid, url, port in workers:
        metrics = await scrape(http, url)
        rows.append({"pid": pid, "rss_kib": rss_kib(pid),
                     "fds": fds(pid, port, pg_port, redis_port),
                     "sockets": int(metrics.get("fpm_realtime_sockets", -1)),
                     "server_5xx": server_5xx(metrics)})
    return {"t": round(time.monotonic() - started, 1), "workers": rows}


def _median(samples: list[dict[str, Any]], worker: int, pick: str) -> float:
    def value(s: dict[str, Any]) -> float:
        row = s["workers"][worker]
        return float(row["rss_kib"] if pick == "rss_kib" else row["fds"][pick])
    return statistics.median(value(s) for s in samples)


def compare(samples: list[dict[str, Any]], warmup: float, window: int = 3,
            limit: float = 10.0) -> dict[str, Any]:
    """Median of the first ``window`` samples after warm-up against the last ``window``."""
    after = [s for s in samples if s["t"] >= warmup]
    if len(after) < 2 * window:
        return {"ok": False, "reason": f"only {len(after)} samples after warm-up"}
    base, end = after[:window], after[-window:]
    workers, ok = [], True
    for w in range(len(samples[0]["workers"])):
        row: dict[str, Any] = {}
        for pick in ("rss_kib", "total", "files", "postgres", "redis", "clients"):
            b, e = _median(base, w, pick), _median(end, w, pick)
            growth = round(100 * (e - b) / b, 1) if b else 0.0
            row[pick] = {"warm": b, "end": e, "growth_pct": growth}
        ok = ok and row["rss_kib"]["growth_pct"] < limit and row["total"]["growth_pct"] < limit
        workers.append(row)
    return {"ok": ok, "limit_pct": limit, "baseline_t": [s["t"] for s in base],
            "end_t": [s["t"] for s in end], "workers": workers}
