"""A request's write transactions: as its actor, telling the cache what they committed.

Read-your-writes: each write transaction of a request reports its committed changes to the
request's subscriber (`invalidation`), which retires the cached reads they touch on every
worker before the handler goes on, so before the answer leaves. The change leader
invalidates the same keys again from the audit stream (changes made by raw SQL or other
workers) through the same `invalidate`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from db.committed import Change, OnCommit
from db.pool import Connection, transaction
from server.auth.identity import actor
from server.cache.store import invalidate
from server.keys import CACHE, POOL


def invalidation(request: web.Request) -> OnCommit:
    """The subscriber for a transaction written on the request's behalf (`on_commit=`)."""
    cache = request.app[CACHE]

    async def committed(changes: list[Change]) -> None:
        await invalidate(cache, changes)

    return committed


@asynccontextmanager
async def writes(request: web.Request) -> AsyncIterator[Connection]:
    """`db.transaction` as the request's actor, whose committed changes are invalidated."""
    async with transaction(request.app[POOL], await actor(request),
                           on_commit=invalidation(request)) as conn:
        yield conn
