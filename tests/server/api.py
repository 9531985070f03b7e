"""Helpers of the REST tests: signed-in callers, JSON calls, and a SQL statement counter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient
from asyncpg import introspection

from tests.conftest import World


class Caller:
    """A signed-in user of the test client: `await alice.get(path)` -> (status, body)."""

    def __init__(self, client: TestClient[Any, Any], user: dict[str, Any],
                 headers: dict[str, str]) -> None:
        self.client, self.user, self.headers = client, user, headers

    @property
    def id(self) -> str:
        return str(self.user["id"])

    async def call(self, method: str, path: str, json: Any = None,
                   headers: dict[str, str] | None = None, **kw: Any) -> tuple[int, Any]:
        response = await self.client.request(method, path, json=json,
                                             headers={**self.headers, **(headers or {})}, **kw)
        self.last = response
        text = await response.text()
        body = None
        if text:
            assert response.content_type in ("application/json", "application/problem+json")
            body = await response.json(content_type=None)
        if response.status >= 500:
            raise AssertionError(f"{method} {path} -> {response.status}: {text}")
        return response.status, body

    async def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, json: Any = None, **kw: Any) -> tuple[int, Any]:
        return await self.call("POST", path, json, **kw)

    async def patch(self, path: str, json: Any = None, **kw: Any) -> tuple[int, Any]:
        return await self.call("PATCH", path, json, **kw)

    async def delete(self, path: str, **kw: Any) -> tuple[int, Any]:
        return await self.call("DELETE", path, **kw)


async def caller(client: TestClient[Any, Any], world: World, org: Any, role: str,
                 **kw: Any) -> Caller:
    user = await world.user(org, role, **kw)
    return Caller(client, user, await world.headers(client.app, user))


def fields(problem: dict[str, Any]) -> set[str]:
    return {e["field"] for e in problem["errors"]}


async def all_pages(who: Caller, path: str) -> list[dict[str, Any]]:
    """Every item of a list, following next_cursor."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        sep = "&" if "?" in path else "?"
        status, body = await who.get(path + (f"{sep}cursor={cursor}" if cursor else ""))
        assert status == 200, body
        items += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


_TYPE_LOOKUPS = frozenset((introspection.INTRO_LOOKUP_TYPES,
                           introspection.INTRO_LOOKUP_TYPES_13))


class StatementCounter:
    """Counts the SQL statements of the connections it is attached to (a query logger per
    connection), but not those of transactions as the system role: work that shares the
    pool without being the request's (a periodic sweep, the read of a session whose cached
    facts just expired) would make a count depend on the clock. Nor asyncpg's own lookup of
    a type its connection has not met yet (three statements: `jit` off, the lookup, `jit`
    back), which depends on which of the pool's connections a request happens to get."""

    def __init__(self) -> None:
        self.queries: list[str] = []
        self._loggers: dict[int, Callable[[Any], None]] = {}
        self._in_system: set[int] = set()  # connections inside a system-role transaction

    def logger(self, conn: Any) -> Callable[[Any], None]:
        """The query logger of `conn` (the same one each time: it is removed by identity)."""
        key = conn.get_server_pid()  # the pool hands out a new proxy at each acquire
        if key not in self._loggers:
            self._loggers[key] = lambda logged: self._log(key, logged.query)
        return self._loggers[key]

    def _log(self, key: int, query: str) -> None:
        if query in _TYPE_LOOKUPS or "set_config('jit'" in query:
            return
        text = query.strip()
        if text.startswith("BEGIN") and "set_config('role', 'formula_pm_system'" in text:
            self._in_system.add(key)
        if key not in self._in_system:
            self.queries.append(query)
        elif text.rstrip(";").upper() in ("COMMIT", "ROLLBACK"):
            self._in_system.discard(key)

    def reset(self) -> None:
        self.queries.clear()


@asynccontextmanager
async def counting_statements(pool: asyncpg.Pool) -> AsyncIterator[StatementCounter]:
    """Count the statements the app runs on `pool` meanwhile as the caller (see
    StatementCounter), with asyncpg's own query logger on each of the pool's real
    connections (a logger stays with its connection across acquire and release; nothing is
    patched or faked)."""
    counter = StatementCounter()
    await _on_every_connection(pool, lambda conn: conn.add_query_logger(counter.logger(conn)))
    try:
        yield counter
    finally:
        await _on_every_connection(
            pool, lambda conn: conn.remove_query_logger(counter.logger(conn)))


async def _on_every_connection(pool: asyncpg.Pool, do: Callable[[Any], None]) -> None:
    """Hold every connection the pool can have at once (opening any not yet open), apply
    `do` to each, and give them back."""
    held = [await pool.acquire() for _ in range(pool.get_max_size())]
    try:
        for conn in held:
            do(conn)
    finally:
        for conn in held:
            await pool.release(conn)
