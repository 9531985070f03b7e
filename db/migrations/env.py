"""Alembic environment: runs migrations over asyncpg, serialised by an advisory lock."""

import asyncio
import os

import asyncpg
from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from db.schema import metadata

# Two workers starting at once must not both migrate: the second waits, then finds nothing to do.
MIGRATION_LOCK = 7_201_014


def _url() -> str:
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL", "")
    if not url:
        raise RuntimeError("no database URL: set DATABASE_URL")
    return url


def _run(connection: Connection) -> None:
    connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
    connection.commit()  # the lock is session-level; end the implicit transaction
    try:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            transaction_per_migration=True,
            compare_server_default=False,
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
