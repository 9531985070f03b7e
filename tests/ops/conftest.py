"""Helpers of the operator-command tests: scratch databases, the CLI in a thread, and a
fingerprint of every table."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from cli.embedded import with_database
from cli.main import main

NewDatabase = Callable[..., Awaitable[str]]


async def run_cli(args: list[str]) -> int:
    return await asyncio.to_thread(main, args)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("JWT_SECRET", "c" * 40)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("REDIS_URL", raising=False)
    return database_url


@pytest.fixture
async def new_database(admin_dsn: str) -> AsyncIterator[NewDatabase]:
    """Names (and creates, unless create=False) databases dropped after the test."""
    names: list[str] = []

    async def make(*, create: bool = True) -> str:
        name = f"fpm_ops_{secrets.token_hex(4)}"
        names.append(name)
        if create:
            await _admin(admin_dsn, f'CREATE DATABASE "{name}"')
        return with_database(admin_dsn, name)

    yield make
    for name in names:
        await _admin(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def fingerprint(url: str) -> dict[str, tuple[int, str]]:
    """(rows, md5 of every row in order) of each table of the public schema."""
    conn = await asyncpg.connect(url)
    try:
        tables = [r["relname"] for r in await conn.fetch(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
            "AND relkind IN ('r', 'p') AND NOT relispartition ORDER BY relname")]
        out = {}
        for table in tables:
            row = await conn.fetchrow(  # the table names come from the catalog
                f'SELECT count(*) AS n, md5(coalesce(string_agg(t::text, chr(10) '  # noqa: S608
                f'ORDER BY t::text), \'\')) AS digest FROM "{table}" t')
            out[table] = (int(row["n"]), str(row["digest"]))
        return out
    finally:
        await conn.close()


async def scratch_databases(admin_dsn: str) -> list[str]:
    conn = await asyncpg.connect(admin_dsn)
    try:
        return [r["datname"] for r in await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE 'fpm\\_restore\\_%' "
            "OR datname LIKE '%\\_replaced\\_%'")]
    finally:
        await conn.close()
