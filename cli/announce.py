"""What `serve` says to the person who started it (stdout, plain text; logs go to stderr as
JSON): where to open the service and, in embedded mode, where the demo logins are."""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path
from typing import Any

from server.config import Settings

DEMO_LOGINS = "demo-logins.txt"


def browse_url(host: str, port: int) -> str:
    """The URL a browser on this machine opens: a wildcard bind is reached on loopback."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:  # a name such as localhost
        return f"http://{host}:{port}/"
    if address.is_unspecified:
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    shown = f"[{address}]" if address.version == 6 else str(address)
    return f"http://{shown}:{port}/"


def logins_path(settings: Settings) -> Path:
    return settings.data_dir / DEMO_LOGINS


def open_line(settings: Settings) -> str:
    """`open URL`, and in embedded mode where the demo logins are (when they were kept)."""
    line = f"open {browse_url(settings.host, settings.port)}"
    path = logins_path(settings)
    if settings.embedded and path.is_file():
        line += f" — demo logins in {path}"
    return line


def demo_logins_text(result: dict[str, Any]) -> str:
    lines = [f"Demo organisation '{result['org']}' loaded. Sign in with any of these "
             f"(password: {result['password']}):"]
    lines += [f"  {login['email']:<36} {login['role']}" for login in result["logins"]]
    return "\n".join(lines)


def keep_demo_logins(settings: Settings, result: dict[str, Any]) -> None:
    """Print the logins of a demo organisation just loaded and keep them (owner-only) in
    DATA_DIR: its passwords are random and printed only this once."""
    text = demo_logins_text(result)
    say(text)
    path = logins_path(settings)
    # Created owner-only (never readable by others, not even for a moment); a file left
    # from before gets the mode too.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")
    path.chmod(0o600)


def say(text: str) -> None:
    """Print to stdout even where its encoding lacks a character (the dash of a C locale)."""
    encoding = sys.stdout.encoding or "utf-8"
    print(text.encode(encoding, errors="replace").decode(encoding), flush=True)
