"""DATABASE_URL checked before use: the scheme, the TLS parameters and the files they name.

asyncpg reads libpq's TLS parameters (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`) from
the URL itself, so the pool, the change leader's connection, the migrations and every
command connect the same way from the URL alone; this module only refuses a URL that
could not work, with a message naming the parameter.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

SCHEMES = ("postgresql", "postgres")
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
FILE_PARAMETERS = ("sslrootcert", "sslcert", "sslkey", "sslcrl")


class BadDatabaseUrl(ValueError):
    """The URL cannot work; the message names the part and never shows the password."""


def check_database_url(url: str) -> None:
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise BadDatabaseUrl(f"DATABASE_URL is not a valid URL: {exc}") from None
    if parts.scheme not in SCHEMES:
        raise BadDatabaseUrl(
            f"DATABASE_URL must start with postgresql:// (got {parts.scheme or 'no'} scheme)")
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    if not (parts.hostname or query.get("host")):
        raise BadDatabaseUrl("DATABASE_URL names no host")
    mode = _one(query, "sslmode")
    if mode is not None and mode not in SSL_MODES:
        raise BadDatabaseUrl(f"DATABASE_URL: unknown sslmode={mode!r} "
                             f"(one of {', '.join(SSL_MODES)})")
    for name in FILE_PARAMETERS:
        path = _one(query, name)
        if path is not None and path != "system" and not Path(path).expanduser().is_file():
            raise BadDatabaseUrl(f"DATABASE_URL: {name}={path} is not a readable file")
    if mode in ("verify-ca", "verify-full") and _one(query, "sslrootcert") is None \
            and not Path("~/.postgresql/root.crt").expanduser().is_file():
        raise BadDatabaseUrl(f"DATABASE_URL: sslmode={mode} needs sslrootcert=<CA file> "
                             "(the certificate authority that signed the server's certificate)")


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return None if not values else values[-1]


def tls_summary(url: str) -> str:
    """`sslmode=verify-full` etc. as configured (for logs and the preflight check)."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    return f"sslmode={_one(query, 'sslmode') or 'prefer (default)'}"
