"""Statements about the server and the session rather than the application's data: the
roles script for a DBA, probes, the schema revision, the server's version and TLS, roles and
extensions (start-up checks), whole databases (embedded server, restore), and the system
role for operator commands and the change leader."""

from __future__ import annotations

import asyncpg


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier, quoted (any name, even one with double quotes)."""
    return '"' + name.replace('"', '""') + '"'


ROLES_SQL = """\
-- Formula PM's two roles, once per PostgreSQL server (they are shared by its databases).
-- Run as a role with CREATEROLE (a managed service's master user) or a superuser; running
-- it again changes nothing. Neither role logs in; neither needs SUPERUSER or BYPASSRLS.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'formula_pm_app') THEN
        CREATE ROLE formula_pm_app NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'formula_pm_system') THEN
        CREATE ROLE formula_pm_system NOLOGIN;
    END IF;
END $$;
-- The service's login may act as either (PostgreSQL 16 and later: add
-- "WITH INHERIT TRUE, SET TRUE" to this GRANT).
GRANT formula_pm_app, formula_pm_system TO {login};
-- The service database, owned by the login (skip if it exists):
CREATE DATABASE {database} OWNER {login};
"""


def roles_script(login: str, database: str) -> str:
    """ROLES_SQL for this login and database, for a DBA to run (`formula-pm roles-sql`)."""
    return ROLES_SQL.format(login=quote_ident(login), database=quote_ident(database))


async def ping(conn: asyncpg.Connection) -> None:
    """One round trip."""
    await conn.fetchval("SELECT 1")


async def act_as_system(conn: asyncpg.Connection, *, local: bool = False) -> None:
    """The system role (every organisation's rows) for the session, or with `local` for the
    current transaction only."""
    await conn.execute("SET LOCAL ROLE formula_pm_system" if local
                       else "SET ROLE formula_pm_system")


async def current_revision(conn: asyncpg.Connection) -> str | None:
    """The database's schema revision (Alembic's); None before the first migration."""
    exists = await conn.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL")
    if not exists:
        return None
    value: str | None = await conn.fetchval("SELECT version_num FROM alembic_version")
    return value


# --- the server -------------------------------------------------------------------------------

async def server_version_num(conn: asyncpg.Connection) -> int:
    """PostgreSQL's version as a number (160004 for 16.4)."""
    return int(await conn.fetchval("SHOW server_version_num"))


async def server_version(conn: asyncpg.Connection) -> str:
    """PostgreSQL's version as it names itself (`16.4 (Debian 16.4-1)`)."""
    version: str = await conn.fetchval("SHOW server_version")
    return version


async def tls_of_session(conn: asyncpg.Connection) -> asyncpg.Record | None:
    """This connection's `ssl` (whether in use) and TLS `version`."""
    return await conn.fetchrow(
        "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")


async def roles_named(conn: asyncpg.Connection, names: list[str]) -> list[asyncpg.Record]:
    """The roles of these names and the login's own: rolname, rolsuper, rolbypassrls,
    rolcreaterole, and `mine` (whether the login is a member)."""
    return list(await conn.fetch(
        "SELECT rolname, rolsuper, rolbypassrls, rolcreaterole, "
        "pg_has_role(current_user, oid, 'MEMBER') AS mine FROM pg_roles "
        "WHERE rolname = ANY($1) OR rolname = current_user", names))


async def login(conn: asyncpg.Connection) -> asyncpg.Record:
    """The login's `name`, and whether it is a superuser or may create roles."""
    row = await conn.fetchrow("SELECT current_user AS name, rolsuper, rolcreaterole "
                              "FROM pg_roles WHERE rolname = current_user")
    assert row is not None
    return row


async def login_is_privileged(conn: asyncpg.Connection) -> bool:
    """A superuser or BYPASSRLS login (it reads every row with row security off)."""
    return bool(await conn.fetchval(
        "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"))


async def extensions_named(conn: asyncpg.Connection,
                           names: list[str]) -> dict[str, str | None]:
    """The available extensions of these names -> their installed version (None: not
    installed in this database)."""
    rows = await conn.fetch(
        "SELECT name, installed_version FROM pg_available_extensions WHERE name = ANY($1)",
        names)
    return {r["name"]: r["installed_version"] for r in rows}


async def export_snapshot(conn: asyncpg.Connection) -> str:
    """The snapshot of the current (repeatable-read) transaction, for other sessions."""
    snapshot: str = await conn.fetchval("SELECT pg_export_snapshot()")
    return snapshot


# --- whole databases (from a connection to another database of the server) ---------------------

async def database_exists(conn: asyncpg.Connection, name: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))


async def create_database(conn: asyncpg.Connection, name: str) -> None:
    await conn.execute(f"CREATE DATABASE {quote_ident(name)}")


async def drop_database(conn: asyncpg.Connection, name: str, *,
                        if_exists: bool = False) -> None:
    """Drop it, ending its sessions (WITH (FORCE))."""
    exists = "IF EXISTS " if if_exists else ""
    await conn.execute(f"DROP DATABASE {exists}{quote_ident(name)} WITH (FORCE)")


async def rename_database(conn: asyncpg.Connection, name: str, new_name: str) -> None:
    await conn.execute(f"ALTER DATABASE {quote_ident(name)} RENAME TO {quote_ident(new_name)}")


async def end_sessions(conn: asyncpg.Connection, database: str) -> None:
    """Terminate every other session connected to `database`."""
    await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = $1 AND pid <> pg_backend_pid()", database)
