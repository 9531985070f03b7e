"""Helpers of the REST tests: signed-in callers, JSON calls, and a SQL statement counter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

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


class StatementCounter:
    """Counts SQL statements run on connections acquired from any asyncpg pool."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    def __call__(self, logged: Any) -> None:
        self.queries.append(logged.query)

    def reset(self) -> None:
        self.queries.clear()


@contextmanager
def counting_statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[StatementCounter]:
    """Count the statements of every connection handed out by any asyncpg pool meanwhile.

    Nothing is faked: the real ``Pool.acquire`` and ``Pool.release`` run, wrapped only to
    attach asyncpg's own query logger on the way out and detach it on the way back (both
    ways of acquiring, ``async with pool.acquire()`` and ``await pool.acquire()``, end in
    ``Pool.release``)."""
    counter = StatementCounter()
    original_acquire, original_release = asyncpg.Pool._acquire, asyncpg.Pool.release

    async def acquire(self: asyncpg.Pool, timeout: float | None) -> Any:  # noqa: ASYNC109
        conn = await original_acquire(self, timeout)
        conn.add_query_logger(counter)
        return conn

    async def release(self: asyncpg.Pool, connection: Any, *,
                      timeout: float | None = None) -> None:  # noqa: ASYNC109
        connection.remove_query_logger(counter)
        await original_release(self, connection, timeout=timeout)

    monkeypatch.setattr(asyncpg.Pool, "_acquire", acquire)
    monkeypatch.setattr(asyncpg.Pool, "release", release)
    yield counter
    monkeypatch.undo()
