"""What the catalog says of the connected database, as a backup records it and a restore
checks it: its tables and their rows, the objects that roles other than the database owner
own, the database's own settings; and, after a `--no-owner` restore, putting those owners
and settings back."""

from __future__ import annotations

import re

import asyncpg

from db.admin_sql import quote_ident

TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]*")
FUNCTION_NAME = re.compile(r"[a-z_][a-z0-9_]*\([a-z0-9_ ,\[\]]*\)")
SETTING_NAME = re.compile(r"[a-z_][a-z0-9_.]*")


async def relation_count(conn: asyncpg.Connection) -> int:
    """Tables, views and materialised views of the public schema."""
    return int(await conn.fetchval(
        "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace "
        "AND relkind IN ('r', 'p', 'v', 'm')"))


async def user_tables(conn: asyncpg.Connection) -> list[str]:
    """Tables of the public schema; a partitioned table once (its partitions are in it)."""
    rows = await conn.fetch("""SELECT c.relname FROM pg_class c
                               WHERE c.relnamespace = 'public'::regnamespace
                                 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
                               ORDER BY c.relname""")
    return [r["relname"] for r in rows]


async def count_rows(conn: asyncpg.Connection) -> dict[str, int]:
    """Exact rows per table of the public schema (the caller's snapshot and privileges:
    the service's login passes row-level security through its system role)."""
    counts = {}
    for table in await user_tables(conn):
        # The table names come from the catalog (user_tables), quoted.
        counts[table] = int(await conn.fetchval(
            f"SELECT count(*) FROM {quote_ident(table)}"))  # noqa: S608
    return counts


async def highest_audit_id(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM audit_logs"))


async def foreign_owners(conn: asyncpg.Connection) -> list[dict[str, str]]:
    """Functions, tables, views and sequences of the public schema owned by a role other
    than the database owner (the service's SECURITY DEFINER functions)."""
    rows = await conn.fetch("""
        WITH db AS (SELECT datdba FROM pg_database WHERE datname = current_database())
        SELECT 'FUNCTION' AS kind, p.oid::regprocedure::text AS name, r.rolname AS owner
        FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner, db
        WHERE p.pronamespace = 'public'::regnamespace AND p.proowner <> db.datdba
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
        UNION ALL
        SELECT 'TABLE', c.oid::regclass::text, r.rolname
        FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner, db
        WHERE c.relnamespace = 'public'::regnamespace AND c.relowner <> db.datdba
          AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
        ORDER BY 1, 2""")
    return [dict(r) for r in rows]


async def database_settings(conn: asyncpg.Connection) -> list[str]:
    """`name=value` settings of this database for every role (ALTER DATABASE ... SET)."""
    value = await conn.fetchval("""
        SELECT s.setconfig FROM pg_db_role_setting s
        JOIN pg_database d ON d.oid = s.setdatabase
        WHERE d.datname = current_database() AND s.setrole = 0""")
    return list(value or [])


async def restore_extras(conn: asyncpg.Connection, database: str,
                         owners: list[dict[str, str]], settings: list[str]) -> None:
    """After a `--no-owner` restore: hand the objects back to their roles and put back the
    database's own settings."""
    for item in owners:
        kind = "FUNCTION" if item["kind"] == "FUNCTION" else "TABLE"
        pattern = FUNCTION_NAME if kind == "FUNCTION" else TABLE_NAME
        if not pattern.fullmatch(item["name"]):  # the manifest is not trusted as SQL
            raise ValueError(f"the manifest names an odd object: {item['name']!r}")
        await conn.execute(f"ALTER {kind} {item['name']} OWNER TO {quote_ident(item['owner'])}")
    for setting in settings:
        name, _, value = setting.partition("=")
        if not SETTING_NAME.fullmatch(name):
            raise ValueError(f"the manifest names an odd setting: {name!r}")
        await conn.execute(f"ALTER DATABASE {quote_ident(database)} SET {quote_ident(name)} "
                           f"= {_literal(value)}")


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
