"""Read-your-writes: after a request's transactions commit, retire what they changed.

The change leader invalidates the same keys again from the audit stream (changes made by
raw SQL or other workers); this middleware makes the writer's own next read fresh at once,
on every worker, before the answer leaves.
"""

from __future__ import annotations

from aiohttp import web

from server.auth.identity import CHANGES
from server.cache.keys import Change
from server.cache.store import invalidate
from server.errors import Handler
from server.keys import CACHE

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@web.middleware
async def invalidation_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in SAFE_METHODS:
        return await handler(request)
    try:
        return await handler(request)
    finally:
        changed = request.get(CHANGES)
        if changed:
            await invalidate(request.app[CACHE], [
                Change(r["table_name"], r["record_id"], r["project_id"], r["org_id"])
                for r in changed])
