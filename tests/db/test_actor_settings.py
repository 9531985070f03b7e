"""The actor's settings reach PostgreSQL exactly, whatever a client put into the headers
they come from: BEGIN and the settings travel as one simple query with the values as
literals (db.pool.literal), so a quote, a backslash or a statement separator in a User-Agent
or a request id must stay text."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from db.pool import Actor, literal, system_transaction, transaction

HOSTILE = [
    "plain", "O'Brien", "''", "'; DROP TABLE tasks; --", "back\\slash\\", "\\'", "$$x$$",
    "E'\\x41'", "semi;colon", "Türkçe ğüşiöç ✓ 🏗️", "line\nbreak\ttab\r", "\\\\'\\\\",
    "' || pg_sleep(5) || '", "x" * 600,
]


@pytest.mark.parametrize("value", HOSTILE)
async def test_settings_arrive_as_sent(pool: asyncpg.Pool, value: str) -> None:
    actor = Actor(uuid.uuid4(), uuid.uuid4(), request_id=value, origin_sid=value,
                  user_agent=value, ip="203.0.113.9")
    async with transaction(pool, actor, readonly=True) as conn:
        row = await conn.fetchrow(
            "SELECT current_setting('app.request_id') AS request_id, "
            "current_setting('app.origin_sid') AS origin_sid, "
            "current_setting('app.user_agent') AS user_agent, current_user AS role, "
            "current_setting('app.user_id') AS user_id, "
            "current_setting('transaction_read_only') AS read_only")
    assert row["request_id"] == value and row["origin_sid"] == value
    assert row["user_agent"] == value[:500]
    assert (row["role"], row["user_id"], row["read_only"]) == (
        "formula_pm_app", str(actor.user_id), "on")
    assert await pool.fetchval("SELECT to_regclass('tasks') IS NOT NULL")


async def test_what_text_cannot_hold_is_replaced_not_sent(pool: asyncpg.Pool) -> None:
    actor = Actor(None, None, request_id="nul\x00byte", user_agent="bad \udcff byte")
    async with system_transaction(pool, actor) as conn:
        row = await conn.fetchrow(
            "SELECT current_setting('app.request_id') AS request_id, "
            "current_setting('app.user_agent') AS user_agent, "
            "current_setting('app.bulk') AS bulk, current_user AS role")
    assert row["request_id"] == "nul\ufffdbyte" and row["user_agent"] == "bad ? byte"
    assert (row["bulk"], row["role"]) == ("", "formula_pm_system")


async def test_pooled_connections_keep_quotes_standard(pool: asyncpg.Pool) -> None:
    # `literal` is exact only under standard_conforming_strings: create_pool asks for it.
    async with transaction(pool, Actor(None, None), readonly=True) as conn:
        assert await conn.fetchval("SHOW standard_conforming_strings") == "on"


def test_literal() -> None:
    assert literal(None) == literal("") == "''"
    assert literal("it's") == "'it''s'"
    assert literal("a\\b") == "'a\\b'"


async def test_a_failed_statement_rolls_back_and_the_connection_stays_usable(
        pool: asyncpg.Pool) -> None:
    with pytest.raises(asyncpg.PostgresError):
        async with transaction(pool, Actor(None, None)) as conn:
            await conn.execute("SELECT 1/0")
    async with transaction(pool, Actor(None, None), readonly=True) as conn:
        assert await conn.fetchval("SELECT 1") == 1
        assert conn.is_in_transaction()
