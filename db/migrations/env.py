"""Alembic environment: runs migrations over asyncpg, serialised by an advisory lock."""

import asyncio
import json
import os
from typing import Any

import asyncpg
from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from db.schema import include_name, metadata

# Two workers starting at once must not both migrate: the second waits, then finds nothing to do.
MIGRATION_LOCK = 7_201_014


def _url() -> str:
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL", "")
    if not url:
        raise RuntimeError("no database URL: set DATABASE_URL")
    return url


RECORD_EVENT = "fpm_record_event(text,uuid,uuid,jsonb,text,uuid,uuid)"


def _record_step(ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
    """`migration_applied` on the audit trail, in the migration's own transaction: once per
    step actually run, however many workers started at once (they wait on the lock)."""
    connection = ctx.connection
    if not connection.execute(text(f"SELECT to_regprocedure('{RECORD_EVENT}') IS NOT NULL")
                              ).scalar():
        return  # before revision 0002, or after undoing it
    if getattr(step, "is_stamp", False):
        return
    revision = step.up_revision_id  # the one applied, or (going down) undone
    doc = ((getattr(step.up_revision, "doc", None) or "").strip().splitlines() or [""])[0]
    details = {"revision": revision, "direction": "up" if step.is_upgrade else "down",
               "description": doc}
    try:
        with connection.begin_nested():  # a savepoint: the migration goes on regardless
            connection.execute(text("SELECT fpm_record_event('migration_applied', NULL, "
                                    "NULL, CAST(:details AS jsonb))"),
                               {"details": json.dumps(details)})
    except DBAPIError:
        # Between 0002 and 0017 the system role passes row-level security only with
        # BYPASSRLS, which a server may not give it: those steps go unrecorded.
        pass


def _run(connection: Connection) -> None:
    connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
    connection.commit()  # the lock is session-level; end the implicit transaction
    try:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            include_name=include_name,
            transaction_per_migration=True,
            compare_server_default=False,
            on_version_apply=_record_step,
        )
        with context.begin_transaction():
            context.run_migrations()
    finally:
        connection.rollback()
        connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
        connection.commit()


async def _main() -> None:
    # asyncpg itself connects, from the URL as given: its TLS parameters (sslmode,
    # sslrootcert, ...) then mean exactly what they mean to the pool and the leader, where
    # SQLAlchemy would pass them to asyncpg as keyword arguments it does not take.
    url = _url()
    engine = create_async_engine("postgresql+asyncpg://", poolclass=NullPool,
                                 async_creator=lambda: asyncpg.connect(url))
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) mode is not supported")
asyncio.run(_main())
