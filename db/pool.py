"""The asyncpg pool and the only two ways to use it: as an actor, or as the system."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from db.committed import Change, OnCommit, transaction_changes
from db.json_depth import TooDeep, loads_bounded
from db.json_values import json_default

log = logging.getLogger("formula_pm.db.pool")

APP_ROLE = "formula_pm_app"
SYSTEM_ROLE = "formula_pm_system"

Connection = asyncpg.Connection
Pool = asyncpg.Pool


@dataclass(frozen=True)
class Actor:
    """Who is acting: read by RLS policies and written onto every audit row."""

    user_id: uuid.UUID | None
    org_id: uuid.UUID | None
    role: str = ""
    request_id: str | None = None
    origin_sid: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    # A session the database must find alive before the transaction runs anything.
    session: SessionProof | None = field(default=None, compare=False)


@dataclass(eq=False)
class SessionProof:
    """The caller's session, for a request whose identity was taken from a worker's own copy
    of the session facts (server/auth/session_copies.py): every transaction of its actor
    checks the session in its first round trip (`fpm_session_alive`: revoked, expired, the
    user no longer active or no longer of this role or organisation) and raises
    `SessionEnded` before anything else runs; `confirmed` once one found it alive."""

    session_id: uuid.UUID
    confirmed: bool = False


class SessionEnded(Exception):
    """The session of `Actor.session` has ended (found by the transaction's first round
    trip): nothing of the transaction ran."""


def dumps(value: Any) -> str:
    return json.dumps(value, default=json_default, separators=(",", ":"))


async def _no_session_state(conn: asyncpg.Connection) -> None:
    """The pool's reset on release. asyncpg's default (`RESET ALL`, `UNLISTEN *`, ...) costs a
    round trip per request, and there is nothing to reset: pooled connections are only used
    through `transaction()` / `system_transaction()` (settings transaction-local, no LISTEN,
    no session locks), and asyncpg still rolls back an open transaction before calling this."""


# Deeper than anything the API accepts or writes (request bodies nest at most 32 levels).
STORED_JSON_DEPTH = 64


def _decode_json(text: str) -> Any:
    """A stored json/jsonb value; one nested deeper than the API could have written it (by
    raw SQL) reads as null, where Python's recursive parser would fail the whole query."""
    try:
        return loads_bounded(text, STORED_JSON_DEPTH)
    except (TooDeep, RecursionError):
        return None


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, schema="pg_catalog", encoder=dumps,
                                  decoder=_decode_json)
    # asyncpg looks up uuid[] (the scope link columns) the first time a statement meets it,
    # three statements in the middle of some request; done here, once per connection.
    await conn.fetchval("SELECT '{}'::uuid[]")


class BoundedPool(asyncpg.Pool):
    """asyncpg's pool, where waiting for a free connection is bounded by default: a caller
    that cannot get one in `acquire_timeout` seconds gets TimeoutError (REST answers 503 with
    Retry-After, a socket ack `unavailable`) instead of queueing without end."""

    __slots__ = ("acquire_timeout",)

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self.acquire_timeout if timeout is None else timeout)


async def create_pool(
    dsn: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    command_timeout: float = 10.0,
    acquire_timeout: float = 5.0,
    application_name: str = "formula-pm",
) -> asyncpg.Pool:
    pool = BoundedPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        command_timeout=command_timeout,
        init=_init_connection,
        reset=_no_session_state,
        server_settings={
            "application_name": application_name,
            # `literal` relies on it (it is PostgreSQL's default; a server set otherwise
            # must not change what a quote means on our connections).
            "standard_conforming_strings": "on",
            "idle_in_transaction_session_timeout": "60000",
        },
    )
    pool.acquire_timeout = acquire_timeout
    await pool
    return pool


def literal(value: str | None) -> str:
    """`value` as an SQL string literal ('' for None) for the simple-query protocol.

    Exact under `standard_conforming_strings` (every pooled connection sets it at startup:
    `create_pool`), where the quote is the only character special inside '...': doubling it
    is the whole escape (as libpq's PQescapeStringConn does then). What PostgreSQL text
    cannot hold is replaced, not sent: NUL, and lone surrogates (undecodable header bytes)."""
    if not value:
        return "''"
    text = value.replace("\x00", "\ufffd")
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")
    return "'" + text.replace("'", "''") + "'"


def _begin_sql(role: str, actor: Actor, readonly: bool, bulk: bool,
               repeatable: bool = False) -> str:
    """BEGIN and the actor's settings (transaction-local) in one round trip: a simple query
    of two statements, the values as literals (`literal`)."""
    settings = (("role", role), ("app.user_id", _text(actor.user_id)),
                ("app.org_id", _text(actor.org_id)), ("app.request_id", actor.request_id),
                ("app.origin_sid", actor.origin_sid), ("app.ip", actor.ip),
                ("app.user_agent", (actor.user_agent or "")[:500]),
                ("app.bulk", "on" if bulk else ""))
    calls = ", ".join(f"set_config('{name}', {literal(value)}, true)"
                      for name, value in settings)
    level = " ISOLATION LEVEL REPEATABLE READ" if repeatable else ""
    sql = f"BEGIN{level}{' READ ONLY' if readonly else ''}; SELECT {calls}"
    session = _checked_session(role, actor)
    if session is not None:
        sql += (f"; SELECT fpm_session_alive({literal(str(session.session_id))}, "
                f"{literal(_text(actor.user_id))}, {literal(_text(actor.org_id))}, "
                f"{literal(actor.role)})")
    return sql


def _text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


async def _rollback(conn: asyncpg.Connection) -> None:
    """Roll back; on a connection that broke mid-statement that fails too, and must not mask
    the original error: the connection is closed so the pool replaces it."""
    try:
        await conn.execute("ROLLBACK")
    except Exception:
        conn.terminate()


@asynccontextmanager
async def _in_transaction(pool: asyncpg.Pool, role: str, actor: Actor, *,
                          readonly: bool = False, bulk: bool = False,
                          on_commit: OnCommit | None = None,
                          repeatable: bool = False) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection in a transaction as `role` with the actor's settings.

    With `on_commit`, a write transaction reads what it changed just before COMMIT and,
    once committed and its connection given back, awaits `on_commit(changes)`; after a
    rollback (or a failed COMMIT) it is not called. A read-only transaction reports nothing.

    BEGIN and the settings are one round trip (`_begin_sql`), COMMIT another: a write costs
    its own statements plus three (with `on_commit`, the read of what changed)."""
    report = on_commit is not None and not readonly
    changes: list[Change] | None = None
    conn = await pool.acquire()
    try:
        began = False
        try:
            await _begin(conn, role, actor, readonly, bulk, repeatable)
            began = True
            yield conn
            if report:
                changes = await transaction_changes(conn)
        except BaseException:
            if began or conn.is_in_transaction():
                await _rollback(conn)
            raise
        await conn.execute("COMMIT")
    finally:
        await _release(pool, conn)
    if on_commit is not None and changes is not None:
        await on_commit(changes)


async def _begin(conn: asyncpg.Connection, role: str, actor: Actor, readonly: bool,
                 bulk: bool, repeatable: bool) -> None:
    """BEGIN, the actor's settings and (for `Actor.session`) the session's check."""
    session = _checked_session(role, actor)
    try:
        await conn.execute(_begin_sql(role, actor, readonly, bulk, repeatable))
    except asyncpg.InvalidAuthorizationSpecificationError:
        if session is None:
            raise
        raise SessionEnded("the session has ended") from None
    if session is not None:
        session.confirmed = True


def _checked_session(role: str, actor: Actor) -> SessionProof | None:
    """The session the transaction checks: the actor's, as the app role only (the
    system's transactions — sign-in, revocation — act on sessions themselves)."""
    return actor.session if role == APP_ROLE else None


async def _release(pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
    """Give the connection back. When that fails (the server went away after our commit or
    rollback), asyncpg has already closed it and the pool replaces it: the transaction's
    outcome stands, so the failure is not the caller's."""
    try:
        await pool.release(conn)
    except Exception as exc:
        log.warning("connection not returned to the pool cleanly: %s", exc)


@asynccontextmanager
async def transaction(
    pool: asyncpg.Pool, actor: Actor, *, readonly: bool = False,
    on_commit: OnCommit | None = None,
) -> AsyncIterator[asyncpg.Connection]:
    """One pooled connection in a transaction, as `formula_pm_app` with the actor's settings.

    Row-level security applies even when the service logs in as a superuser, and every
    trigger-written audit row names the actor, the request and the originating socket.
    `on_commit`, when given, is told what a write transaction committed (`_in_transaction`).
    """
    joined = _SNAPSHOT.get()
    if readonly and joined is not None and joined.serves(pool, actor):
        yield joined.conn
        return
    async with _in_transaction(pool, APP_ROLE, actor, readonly=readonly,
                               on_commit=on_commit) as conn:
        yield conn


@dataclass(frozen=True)
class _Snapshot:
    pool: asyncpg.Pool
    actor: Actor
    conn: asyncpg.Connection
    task: asyncio.Task[Any] | None

    def serves(self, pool: asyncpg.Pool, actor: Actor) -> bool:
        """Whether a read of `actor` on `pool` may join: in the task that opened the
        snapshot (a task started inside inherits the contextvar, but must not use the
        connection concurrently), on the same pool, as the same user of the same
        organisation (row-level security reads nothing else of the actor)."""
        return (asyncio.current_task() is self.task and pool is self.pool
                and actor.user_id == self.actor.user_id
                and actor.org_id == self.actor.org_id and actor.role == self.actor.role)


# The snapshot the current task reads in (`snapshot()`).
_SNAPSHOT: contextvars.ContextVar[_Snapshot | None] = contextvars.ContextVar(
    "snapshot", default=None)


@asynccontextmanager
async def snapshot(pool: asyncpg.Pool, actor: Actor) -> AsyncIterator[asyncpg.Connection]:
    """One read-only REPEATABLE READ transaction as the actor, which every read-only
    `transaction(pool, <same user>)` opened inside the block joins instead of opening its
    own: code that reads in many short transactions (a background export replaying a list
    page by page, and counting it first) then sees one instant of the database, so the
    count and the pages agree. Writes and system transactions are not joined.

    Holds one connection, and the database's cleanup horizon, for the whole block: for
    bounded background work only, never around a request. The joined reads run one after
    the other (one connection): nothing inside may read concurrently."""
    async with _in_transaction(pool, APP_ROLE, actor, readonly=True, repeatable=True) as conn:
        token = _SNAPSHOT.set(_Snapshot(pool, actor, conn, asyncio.current_task()))
        try:
            yield conn
        finally:
            _SNAPSHOT.reset(token)


@asynccontextmanager
async def system_transaction(
    pool: asyncpg.Pool, actor: Actor | None = None, *, bulk: bool = False,
    on_commit: OnCommit | None = None,
) -> AsyncIterator[asyncpg.Connection]:
    """A transaction as `formula_pm_system` (bypasses RLS): sign-in, sessions, the change
    leader, imports. `actor`, when given, is still written onto the audit rows.

    `bulk` marks every audit row of the transaction as part of a bulk import (the setting
    `app.bulk`): the change leader then invalidates and re-checks but sends no row events.
    Only server code sets it, here; every other transaction resets it, and nothing a client
    sends reaches it. `on_commit` as for `transaction`."""
    async with _in_transaction(pool, SYSTEM_ROLE, actor or Actor(None, None),
                               bulk=bulk, on_commit=on_commit) as conn:
        yield conn
