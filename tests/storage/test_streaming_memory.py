"""A 100 MiB upload through file:// is streamed to disk: the worker's resident memory grows
by less than 20 MiB (client and server share this process, so the bound covers both)."""

from __future__ import annotations

import hashlib
import uuid

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from storage.errors import OffsetMismatch, SizeExceeded
from storage.keys import object_key
from storage.local import LocalStorage
from tests.memory import MiB, PeakRss, generated

SIZE = 100 * MiB
LIMIT = 20 * MiB


def content_route(storage: LocalStorage, key: str) -> web.Application:
    """A stand-in for PUT /api/v1/attachments/{id}/content: the body goes to put_stream."""

    async def put_content(request: web.Request) -> web.Response:
        size = int(request.headers["X-Declared-Size"])
        offset = int(request.headers.get("X-Offset", "0"))
        try:
            received = await storage.put_stream(
                key, request.content.iter_chunked(256 * 1024), offset, size)
        except OffsetMismatch as exc:
            return web.json_response({"received": exc.received}, status=409)
        except SizeExceeded:
            return web.json_response({}, status=413)
        return web.json_response({"received": received})

    app = web.Application()
    app.router.add_put("/content", put_content)
    return app


async def test_a_100_mib_upload_stays_within_20_mib(local_storage: LocalStorage) -> None:
    key = object_key(uuid.uuid4(), uuid.uuid4())
    async with TestServer(content_route(local_storage, key)) as server, \
            aiohttp.ClientSession() as session:
        url = str(server.make_url("/content"))

        async def upload(size: int, digest: hashlib._Hash) -> int:
            headers = {"X-Declared-Size": str(size), "Content-Length": str(size)}
            async with session.put(url, data=generated(size, digest),
                                   headers=headers) as answer:
                assert answer.status == 200, await answer.text()
                return int((await answer.json())["received"])

        await upload(2 * MiB, hashlib.sha256())  # warm up: threads, buffers, connections
        digest = hashlib.sha256()
        async with PeakRss() as rss:
            assert await upload(SIZE, digest) == SIZE
    growth = rss.growth
    print(f"RSS before {rss.baseline / MiB:.1f} MiB, peak {rss.peak / MiB:.1f} MiB, "
          f"growth {growth / MiB:.1f} MiB for a {SIZE // MiB} MiB upload")
    assert growth < LIMIT
    assert await local_storage.stat(key) == SIZE
    assert await local_storage.sha256(key) == digest.hexdigest()
    await local_storage.delete(key)  # 100 MiB less in the kept temporary folders


async def test_the_route_refuses_a_body_over_the_declared_size(
        local_storage: LocalStorage) -> None:
    key = object_key(uuid.uuid4(), uuid.uuid4())
    async with TestServer(content_route(local_storage, key)) as server, \
            aiohttp.ClientSession() as session:
        url = str(server.make_url("/content"))
        async with session.put(url, data=b"x" * 11, headers={"X-Declared-Size": "10"}) as answer:
            assert answer.status == 413
        async with session.put(url, data=b"x" * 4, headers={"X-Declared-Size": "10",
                                                              "X-Offset": "6"}) as answer:
            assert answer.status == 409 and await answer.json() == {"received": 0}
    assert await local_storage.stat(key) is None
