"""Running the PostgreSQL client tools: the URL without its password (which goes to the
environment, not the process list), and stderr kept for the error message."""

from __future__ import annotations

import os
import urllib.parse


def tool_target(url: str) -> tuple[str, dict[str, str]]:
    """(the URL for --dbname without the password, the environment carrying it)."""
    parts = urllib.parse.urlsplit(url)
    env = {**os.environ}
    if parts.password is not None:
        env["PGPASSWORD"] = urllib.parse.unquote(parts.password)
        user = parts.username or ""
        host = parts.netloc.rsplit("@", 1)[1]
        parts = parts._replace(netloc=f"{user}@{host}" if user else host)
    return urllib.parse.urlunsplit(parts), env


def database_of(url: str) -> str:
    return urllib.parse.unquote(urllib.parse.urlsplit(url).path.lstrip("/")) or "postgres"


def last_lines(text: bytes, count: int = 6) -> str:
    lines = text.decode(errors="replace").strip().splitlines()
    return "\n".join(lines[-count:])
