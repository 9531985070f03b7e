"""Stopping a worker with sockets connected: Ctrl-C (SIGINT) or SIGTERM ends it within 2 s,
every socket gets a proper close (the Engine.IO close packet, then a websocket close frame
1000 from the server; a peer that never answers it does not hold the worker up), one
`shutdown` log line says how long it ran; the access log counts a websocket's lifetime
apart from request durations; the start says where to open it."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp import web

from server.config import Settings
from tests.conftest import World, _free_port
from tests.realtime.conftest import token_for
from tests.serve_process import Serve

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _serve(settings: Settings, folder: Path) -> Serve:
    return Serve({"DATABASE_URL": settings.database_url or "",
                  "REDIS_URL": settings.redis_url or "", "JWT_SECRET": settings.jwt_secret,
                  "FPM_ENV": settings.env_name, "DATA_DIR": str(folder)},
                 folder, _free_port())


class RawSocket:
    """A websocket speaking Engine.IO/Socket.IO by hand, reading all the time (a peer that
    answers the server's close frame, as browsers do)."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url = http, url
        self.texts: list[str] = []
        self.close: tuple[aiohttp.WSMsgType, int | None] | None = None
        self.task: asyncio.Task[None] | None = None

    async def connect(self, token: str) -> None:
        self.ws = await self.http.ws_connect(f"{self.url}/socket.io/?EIO=4&transport=websocket")
        opened = await self.ws.receive_str()
        assert opened.startswith("0{")
        await self.ws.send_str("40" + json.dumps({"token": token}))
        assert (await self.ws.receive_str()).startswith("40{")

    def read_all_the_time(self) -> None:
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type is aiohttp.WSMsgType.TEXT and message.data != "2":  # not pings
                self.texts.append(message.data)
        self.close = (aiohttp.WSMsgType.CLOSE, self.ws.close_code)


async def _clients(url: str, token: str, count: int) -> tuple[list[Any], list[str]]:
    reasons: list[str] = []
    clients = []
    for _ in range(count):
        client = socketio.AsyncClient(reconnection=False)

        async def gone(reason: Any = None) -> None:
            reasons.append(str(reason))

        client.on("disconnect", gone)
        await client.connect(url, auth={"token": token}, transports=["websocket"],
                             wait_timeout=10)
        clients.append(client)
    return clients, reasons


@pytest.mark.parametrize("signal_", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_a_signal_closes_every_socket_cleanly_and_stops_within_2s(
    signal_: signal.Signals, settings: Settings, world: World, token_app: web.Application,
    tmp_path: Path,
) -> None:
    user = await world.user(await world.org())
    token = await token_for(token_app, user)
    serve = _serve(settings, tmp_path)
    serve.start()
    try:
        await serve.ready()
        clients, reasons = await _clients(serve.url, token, 3)
        async with aiohttp.ClientSession() as http:
            raw = RawSocket(http, serve.url)
            await raw.connect(token)
            raw.read_all_the_time()
            stalled = RawSocket(http, serve.url)  # never reads again: never answers a close
            await stalled.connect(token)
            async with http.get(f"{serve.url}/socket.io/?EIO=4&transport=polling") as r:
                assert r.status == 200  # a long-polling handshake, for the access log
            code, elapsed = await serve.signal(signal_)
            assert raw.task is not None
            await asyncio.wait_for(raw.task, 5)
        for client in clients:
            await client.disconnect()
    finally:
        serve.stop()
    assert code == 0, serve.stderr[-3000:]
    assert elapsed < 2, f"took {elapsed:.2f} s: {serve.stderr[-3000:]}"
    assert reasons == [socketio.AsyncClient.reason.SERVER_DISCONNECT] * 3
    assert raw.texts == ["1"]  # Engine.IO's close packet (no Socket.IO "41": clients retry)
    assert raw.close == (aiohttp.WSMsgType.CLOSE, aiohttp.WSCloseCode.OK)
    logs = serve.logs()
    assert not [line for line in logs if line["level"] in ("warning", "error", "critical")]
    [shutdown] = [line for line in logs if line["msg"] == "shutdown"]
    assert shutdown["uptime_s"] > 0 and 0 <= shutdown["stop_s"] < 2
    assert serve.stderr.rstrip().splitlines()[-1].startswith("{")  # nothing but JSON lines
    assert f"open http://127.0.0.1:{serve.port}/" in serve.stdout.splitlines()


async def test_the_access_log_keeps_websocket_lifetimes_apart(
    settings: Settings, world: World, token_app: web.Application, tmp_path: Path,
) -> None:
    user = await world.user(await world.org())
    token = await token_for(token_app, user)
    serve = _serve(settings, tmp_path)
    serve.start()
    try:
        await serve.ready()
        clients, _ = await _clients(serve.url, token, 1)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{serve.url}/socket.io/?EIO=4&transport=polling") as r:
                assert r.status == 200
            await asyncio.sleep(0.5)  # a websocket open for a while
            await clients[0].disconnect()
            await asyncio.sleep(0.3)  # its access line is written when the handler ends
            code, _ = await serve.signal(signal.SIGTERM)
    finally:
        serve.stop()
    assert code == 0
    access = [line for line in serve.logs() if line["logger"] == "formula_pm.access"]
    [upgrade] = [line for line in access if line["status"] == 101]
    assert upgrade["websocket"] is True and "ms" not in upgrade
    assert upgrade["lifetime_s"] >= 0.5
    [poll] = [line for line in access if line.get("long_poll")]
    assert poll["status"] == 200 and poll["ms"] < 1000 and "websocket" not in poll
    health = [line for line in access if line["msg"] == "GET /health 200"]
    assert health and all("long_poll" not in line and "websocket" not in line
                          for line in health)
