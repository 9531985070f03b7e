"""`formula-pm check`: what an operator verifies before the first `serve`, one line each.

Every check returns ok / warn / fail with what it saw and, when not ok, how to fix it;
the command exits non-zero when one fails. Nothing here changes anything.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import asyncpg
import redis
from redis.exceptions import RedisError

from cli.fatal import database_problem, where
from db import admin_sql, migrate
from db.dsn import tls_summary
from server.config import Settings

OK, WARN, FAIL = "ok", "warn", "fail"
MIN_SERVER = 140000  # the oldest PostgreSQL the schema is written for
EXTENSIONS = ("pg_trgm", "unaccent")
ROLES = ("formula_pm_app", "formula_pm_system")


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status:<4}  {self.name:<11} {self.detail}"
        return f"{text} — fix: {self.fix}" if self.fix else text

    def as_json(self) -> dict[str, str]:
        return asdict(self)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def database_checks(url: str) -> list[Check]:
    started = time.perf_counter()
    try:
        conn = await asyncpg.connect(url, timeout=10)
    except Exception as exc:
        message = database_problem(exc, url) or f"{type(exc).__name__}: {exc}"
        return [Check("database", FAIL, message,
                      "check DATABASE_URL (host, port, database, user, sslmode, sslrootcert)")]
    connect = time.perf_counter() - started
    try:
        started = time.perf_counter()
        await admin_sql.ping(conn)
        rtt = time.perf_counter() - started
        checks = [Check("database", OK, f"{where(url)} answers: connect {_ms(connect)}, "
                                        f"round trip {_ms(rtt)}")]
        for step in (_tls, _version, _roles, _extensions, _migrations):
            checks.append(await step(conn, url))
        return checks
    finally:
        await conn.close()


async def _tls(conn: asyncpg.Connection, url: str) -> Check:
    row = await admin_sql.tls_of_session(conn)
    mode = tls_summary(url)
    if not row or not row["ssl"]:
        local = urllib.parse.urlsplit(url).hostname in (None, "127.0.0.1", "localhost", "::1")
        return Check("tls", OK if local else WARN, f"not in use ({mode})",
                     "" if local else "add ?sslmode=verify-full&sslrootcert=<CA file> to "
                     "DATABASE_URL")
    verified = "verify-full" in mode or "verify-ca" in mode
    return Check("tls", OK if verified else WARN,
                 f"{row['version']}, {'server verified' if verified else 'NOT verified'} "
                 f"({mode})", "" if verified else "use sslmode=verify-full with sslrootcert")


async def _version(conn: asyncpg.Connection, url: str) -> Check:
    number = await admin_sql.server_version_num(conn)
    text = await admin_sql.server_version(conn)
    if number < MIN_SERVER:
        return Check("server", FAIL, f"PostgreSQL {text}", "PostgreSQL 14 or newer is needed")
    return Check("server", OK, f"PostgreSQL {text}")


async def _roles(conn: asyncpg.Connection, url: str) -> Check:
    rows = {r["rolname"]: r for r in await admin_sql.roles_named(conn, list(ROLES))}
    me = await admin_sql.login(conn)
    said = f"login {me['name']} ({'superuser' if me['rolsuper'] else 'no superuser'}"
    said += ", CREATEROLE)" if me["rolcreaterole"] else ")"
    missing = [r for r in ROLES if r not in rows]
    if missing and not (me["rolsuper"] or me["rolcreaterole"]):
        return Check("roles", FAIL, f"{said}; missing {', '.join(missing)}",
                     "have a DBA run the SQL of `formula-pm roles-sql`")
    privileged = [r for r in ROLES if r in rows and (rows[r]["rolsuper"]
                                                     or rows[r]["rolbypassrls"])]
    if privileged:
        return Check("roles", WARN, f"{said}; {', '.join(privileged)} bypass row-level "
                     "security", "nothing needs it: as a superuser, ALTER ROLE "
                     f"{privileged[0]} NOSUPERUSER NOBYPASSRLS")
    not_granted = [r for r in ROLES if r in rows and not rows[r]["mine"]]
    if not_granted and not (me["rolsuper"] or me["rolcreaterole"]):
        return Check("roles", FAIL, f"{said}; not a member of {', '.join(not_granted)}",
                     "GRANT them to the login (see `formula-pm roles-sql`)")
    state = "present" if not missing else "created by `migrate`"
    return Check("roles", OK, f"{said}; {', '.join(ROLES)} {state}, no SUPERUSER or "
                              "BYPASSRLS")


async def _extensions(conn: asyncpg.Connection, url: str) -> Check:
    found = await admin_sql.extensions_named(conn, list(EXTENSIONS))
    absent = [e for e in EXTENSIONS if e not in found]
    if absent:
        return Check("extensions", FAIL, f"{', '.join(absent)} not available on the server",
                     "install PostgreSQL's contrib package (managed services have both)")
    pending = [e for e in EXTENSIONS if found[e] is None]
    if pending:
        return Check("extensions", OK, f"{', '.join(pending)} available; `migrate` creates "
                     "them (trusted extensions need only ownership of the database)")
    return Check("extensions", OK, ", ".join(f"{e} {found[e]}" for e in EXTENSIONS))


async def _migrations(conn: asyncpg.Connection, url: str) -> Check:
    try:
        state = migrate.state_of(await admin_sql.current_revision(conn))
    except ValueError as exc:
        return Check("migrations", FAIL, str(exc), "upgrade formula-pm to the release that "
                     "migrated this database")
    if state.at_head:
        return Check("migrations", OK, f"at head ({state.head})")
    return Check("migrations", WARN, f"at {state.current or 'none (empty database)'}; "
                 f"{len(state.pending)} pending up to {state.head}",
                 "run `formula-pm migrate` (serve also migrates at start)")


def redis_check(url: str | None) -> Check:
    if not url:
        return Check("redis", WARN, "REDIS_URL not set: one worker, in-process cache and "
                     "fan-out", "set REDIS_URL to run more than one worker")
    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        started = time.perf_counter()
        client.ping()
        rtt = time.perf_counter() - started
        info = client.info("server")
    except redis.AuthenticationError as exc:
        return Check("redis", FAIL, f"{where(url)} refused the credentials: {exc}",
                     "fix the user/password in REDIS_URL")
    except (RedisError, OSError) as exc:
        return Check("redis", FAIL, f"{where(url)} does not answer: {exc}",
                     "check REDIS_URL (host, port, rediss:// for TLS)")
    finally:
        client.close()
    tls = "TLS" if url.startswith("rediss://") else "no TLS"
    return Check("redis", OK, f"{where(url)} Redis {info.get('redis_version', '?')}, {tls}, "
                              f"round trip {_ms(rtt)}")


def smtp_check(url: str | None) -> Check:
    if not url:
        return Check("smtp", OK, "SMTP_URL not set: mail is written to DATA_DIR/outbox")
    parts = urllib.parse.urlsplit(url)
    secure = parts.scheme == "smtps"
    port = parts.port or (465 if secure else 25)
    cls = smtplib.SMTP_SSL if secure else smtplib.SMTP
    try:
        with cls(parts.hostname or "localhost", port, timeout=5) as smtp:
            code, _ = smtp.noop()
    except (OSError, smtplib.SMTPException) as exc:
        return Check("smtp", FAIL, f"{parts.hostname}:{port} does not answer: {exc}",
                     "check SMTP_URL")
    return Check("smtp", OK if code == 250 else WARN, f"{parts.hostname}:{port} answers "
                 f"({'TLS' if secure else 'plain'})")


def data_dir_check(folder: Path) -> Check:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".check-"):
            pass
    except OSError as exc:
        return Check("data_dir", FAIL, f"{folder} is not writable: {exc.strerror or exc}",
                     "create it and give the service's user write access, or set DATA_DIR")
    return Check("data_dir", OK, f"{folder.resolve()} writable"
                 + ("" if os.access(folder, os.X_OK) else " (not searchable)"))


def secret_check(settings: Settings) -> Check:
    if not settings.jwt_secret:
        return Check("jwt_secret", FAIL, "JWT_SECRET is not set",
                     "set JWT_SECRET to 32+ random characters (the README shows how)")
    previous = len(settings.jwt_previous_secrets)
    return Check("jwt_secret", OK, "set" + (f", {previous} previous key(s) still verify"
                                            if previous else ""))


async def run_checks(settings: Settings) -> list[Check]:
    checks: list[Check] = [secret_check(settings)]
    if settings.database_url:
        checks += await database_checks(settings.database_url)
    else:
        checks.append(Check("database", OK, "DATABASE_URL not set: the embedded PostgreSQL "
                                            "in DATA_DIR is used"))
    steps: list[Callable[[], Check]] = [
        lambda: redis_check(settings.redis_url), lambda: smtp_check(settings.smtp_url),
        lambda: data_dir_check(settings.data_dir)]
    for step in steps:
        checks.append(await asyncio.to_thread(step))
    return checks

