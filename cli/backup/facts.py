"""What a backup or a restored database holds, read in one snapshot: the schema revision,
rows per table, the highest audit id, and what a dump of the contents leaves out."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from db import admin_sql, catalog
from db.catalog import count_rows

__all__ = ["Facts", "count_rows", "read_facts", "server_major"]  # count_rows: for bench/


@dataclass
class Facts:
    schema_revision: str | None
    server_version: str
    highest_audit_id: int
    tables: dict[str, int]
    owners: list[dict[str, str]] = field(default_factory=list)
    database_settings: list[str] = field(default_factory=list)


async def server_major(conn: asyncpg.Connection) -> int:
    return await admin_sql.server_version_num(conn) // 10000


async def read_facts(conn: asyncpg.Connection) -> Facts:
    tables = await count_rows(conn)
    revision = await admin_sql.current_revision(conn) if "alembic_version" in tables else None
    highest = await catalog.highest_audit_id(conn) if "audit_logs" in tables else 0
    return Facts(
        schema_revision=revision, server_version=await admin_sql.server_version(conn),
        highest_audit_id=highest, tables=tables, owners=await catalog.foreign_owners(conn),
        database_settings=await catalog.database_settings(conn))
