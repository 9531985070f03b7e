"""The server side of the fan-out benchmarks: one room, one process, one pinned core.

Run by bench/fanout_saturation.py and bench/idle_memory.py as
``python -m bench.fanout_server --mode stock|fast|fast-redis|plain --port P --cpu 0``.
Modes: ``stock`` python-socketio's AsyncManager; ``fast`` the fast_emit manager;
``fast-redis`` its Redis variant (REDIS_URL); ``plain`` a bare aiohttp websocket server
sending the same ``42[...]`` text. Control endpoints (plain HTTP): ``GET /bench/stats``
(process CPU seconds, RSS, clients), ``POST /bench/blast?n=N`` (emit N events to the room,
back to back; answers at once), ``POST /bench/gc``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import time
import uuid
from typing import Any

import socketio
from aiohttp import web

from realtime.hub.socketio_ext.fast_emit import FastAsyncManager, FastAsyncRedisManager

ROOM = "project:bench"
EVENT = "task.updated"


def sample_event(seq: int) -> dict[str, Any]:
    """A realistic task.updated payload (about 400 bytes of JSON)."""
    project = "0b6f2d8e-5a41-4c3e-9f7d-2e8a1c6b4d90"
    record = "7c1e9a3f-2b6d-4e85-a0f4-9d3b7e2c5a18"
    return {
        "id": 184467 + seq, "cursor": str(184467 + seq), "resource": "task",
        "action": "updated", "record_id": record, "project_id": project, "version": 7 + seq,
        "data": {"name": "Reception desk millwork", "status": "in_progress",
                 "progress": 60},
        "changed_fields": ["status", "progress"],
        "actor_id": "3e9d1b7a-6c2f-4a58-b1e0-8f4d2a6c9e37",
        "at": "2025-03-10T09:41:22.123456+00:00", "request_id": f"req-{seq:08d}",
    }


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Bench:
    """One server under test; ``count`` reports how many clients it holds."""

    def __init__(self, mode: str, redis_url: str | None) -> None:
        self.mode = mode
        self.plain_clients: set[web.WebSocketResponse] = set()
        self.sio: socketio.AsyncServer | None = None
        if mode != "plain":
            manager = {"stock": lambda: socketio.AsyncManager(),
                       "fast": lambda: FastAsyncManager(),
                       "fast-redis": lambda: FastAsyncRedisManager(
                           redis_url, channel=f"fpm-bench-{uuid.uuid4().hex}")}[mode]()
            self.sio = socketio.AsyncServer(async_mode="aiohttp", client_manager=manager,
                                            logger=False, engineio_logger=False)
            self.sio.on("connect", self._connect)
            self.sio.on("disconnect", self._disconnect)
        self.connected = 0

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        assert self.sio is not None
        # authenticated-style per-socket state, as the hub keeps it
        await self.sio.save_session(sid, {"user_id": str(uuid.uuid4()), "org_id": "org",
                                          "role": "designer", "session_id": str(uuid.uuid4())})
        await self.sio.enter_room(sid, ROOM)
        self.connected += 1

    async def _disconnect(self, sid: str, reason: Any = None) -> None:
        self.connected -= 1

    async def plain_ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        self.plain_clients.add(ws)
        try:
            async for _ in ws:
                pass
        finally:
            self.plain_clients.discard(ws)
        return ws

    async def blast(self, count: int) -> None:
        for seq in range(count):
            payload = sample_event(seq)
            if self.sio is not None:
                await self.sio.emit(EVENT, payload, room=ROOM)
            else:
                text = "42" + json.dumps([EVENT, payload], separators=(",", ":"))
                for ws in list(self.plain_clients):
                    await ws.send_str(text)
            await asyncio.sleep(0)

    def clients(self) -> int:
        return len(self.plain_clients) if self.sio is None else self.connected


def build_app(bench: Bench) -> web.Application:
    app = web.Application()
    background: set[asyncio.Task[None]] = set()

    async def stats(request: web.Request) -> web.Response:
        manager = bench.sio.manager if bench.sio is not None else None
        return web.json_response({"cpu": time.process_time(), "rss": rss_bytes(),
                                  "clients": bench.clients(), "pid": os.getpid(),
                                  "fast": getattr(manager, "fast_deliveries", 0),
                                  "fallback": getattr(manager, "stock_deliveries", 0)})

    async def blast(request: web.Request) -> web.Response:
        task = asyncio.create_task(bench.blast(int(request.query.get("n", "100"))))
        background.add(task)
        task.add_done_callback(background.discard)
        return web.json_response({"started": True})

    async def collect(request: web.Request) -> web.Response:
        gc.collect()
        return web.json_response({"rss": rss_bytes()})

    app.router.add_get("/bench/stats", stats)
    app.router.add_post("/bench/blast", blast)
    app.router.add_post("/bench/gc", collect)
    if bench.sio is not None:
        bench.sio.attach(app)
    else:
        app.router.add_get("/socket.io/", bench.plain_ws)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["stock", "fast", "fast-redis", "plain"],
                        required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cpu", type=int, default=0)
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    bench = Bench(args.mode, os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    web.run_app(build_app(bench), host="127.0.0.1", port=args.port, print=None,
                access_log=None)


if __name__ == "__main__":
    main()
