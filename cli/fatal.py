"""The failures that stop a command at start, each as one clear line and an exit code:
a database or Redis that cannot be used, an address already in use (never a traceback)."""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
import urllib.parse

import asyncpg
import redis
from redis.exceptions import RedisError

# Exit codes of `formula-pm` (the README lists them).
CONFIG = 2        # a setting is missing or malformed
BEHIND = 3        # `migrate --status`: migrations are pending
UNAVAILABLE = 4   # the database or Redis cannot be reached or refuses us
ADDRESS_IN_USE = 5
INTERRUPTED = 130  # Ctrl-C during start-up (the shell's 128 + SIGINT)


class Fatal(Exception):
    """Stop the command: `str()` is the one line to print, `code` the exit code."""

    def __init__(self, message: str, code: int = UNAVAILABLE) -> None:
        super().__init__(message)
        self.code = code


def where(url: str) -> str:
    """host:port/database of a URL, never its password."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parts.query)
    host = parts.hostname or (query.get("host") or ["local socket"])[0]
    port = f":{parts.port}" if parts.port else ""
    name = parts.path.lstrip("/")
    return f"{host}{port}" + (f"/{name}" if name else "")


REFUSED_LOGIN = (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)


def database_problem(exc: BaseException, url: str) -> str | None:
    """What went wrong connecting to PostgreSQL at `url`, in one line; None: not ours to say."""
    at = f"the database at {where(url)}"
    user = urllib.parse.urlsplit(url).username or "(default user)"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"{at}: its TLS certificate did not verify ({exc.verify_message}); check "
                "sslrootcert (the CA) and, for sslmode=verify-full, that the host name in "
                "DATABASE_URL is one the certificate names")
    if isinstance(exc, ssl.SSLError):
        return f"{at}: TLS failed ({exc.reason or exc}); check sslmode, sslcert and sslkey"
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return f"{at} does not exist: create it, or fix the database name in DATABASE_URL"
    if isinstance(exc, REFUSED_LOGIN):
        return f"{at} refused the login {user!r}: {exc}"
    if isinstance(exc, asyncpg.PostgresError):
        return f"{at} refused the connection: {exc}"
    if isinstance(exc, TimeoutError):
        return f"{at} did not answer in time"
    if isinstance(exc, ConnectionRefusedError):  # asyncpg's text names only the address
        return f"cannot reach {at}: connection refused (is PostgreSQL listening there?)"
    if isinstance(exc, OSError):
        return f"cannot reach {at}: {exc.strerror or exc}"
    return None


async def probe_database(url: str, wait: float = 10.0) -> None:
    """Connect once and hang up; any failure becomes a `Fatal` line."""
    try:
        conn = await asyncpg.connect(url, timeout=wait)
    except Exception as exc:
        message = database_problem(exc, url)
        if message is None:
            raise
        raise Fatal(message) from None
    await conn.close()


def probe_redis(url: str, timeout: float = 3.0) -> None:
    """PING Redis with the URL's credentials; a failure becomes a `Fatal` line."""
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    except redis.AuthenticationError as exc:
        raise Fatal(f"Redis at {where(url)} refused the credentials in REDIS_URL: {exc}") \
            from None
    except (RedisError, OSError) as exc:
        raise Fatal(f"Redis at {where(url)} does not answer: {exc}") from None
    finally:
        client.close()


def check_address_free(host: str, port: int) -> None:
    """Fail before any work when another process holds the port."""
    try:
        probe = socket.create_server((host, port), reuse_port=False)
    except OSError as exc:
        raise address_problem(exc, host, port) from None
    probe.close()


def address_problem(exc: OSError, host: str, port: int) -> Fatal:
    if exc.errno == errno.EADDRINUSE:
        return Fatal(f"{host}:{port} is already in use (another server running?): "
                     "stop it, or choose another PORT / --port", ADDRESS_IN_USE)
    return Fatal(f"cannot listen on {host}:{port}: {exc.strerror or exc}", ADDRESS_IN_USE)


def run_probe(url: str) -> None:
    asyncio.run(probe_database(url))
