"""A private PostgreSQL cluster (initdb) on a free port, optionally with TLS, for the tests
that need what the shared server does not offer: TLS, another pg_hba, a fresh role set."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.conftest import _free_port


def _bindir() -> Path:
    """The PostgreSQL server binaries: on PATH, or Debian's newest major version."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                      key=lambda p: int(Path(p).parts[-3]))
    if not versions:
        raise RuntimeError("no PostgreSQL server binaries (initdb) on this machine")
    return Path(versions[-1]).parent


def _as_server_user() -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` user then."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class Cluster:
    """initdb + pg_ctl start; `stop()` stops it and removes its files."""

    def __init__(self, *, tls: tuple[Path, Path] | None = None,
                 hba: tuple[str, ...] = ("host all all 127.0.0.1/32 trust",)) -> None:
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="fpm-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        bindir = _bindir()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run([str(bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                   "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"])
        settings = [f"port = {self.port}", "listen_addresses = '127.0.0.1'",
                    f"unix_socket_directories = '{self.root}'", "fsync = off",
                    "max_connections = 100", "shared_buffers = 32MB"]
        if tls is not None:
            cert, key = self._own(tls[0]), self._own(tls[1])
            settings += ["ssl = on", f"ssl_cert_file = '{cert}'", f"ssl_key_file = '{key}'"]
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n".join(settings) + "\n")
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\n" + "\n".join(hba) + "\n")
        self._run([str(bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
                   "-t", "60", "start"])
        self._bindir = bindir

    def _own(self, path: Path) -> Path:
        """A copy of a certificate file the server user can read (keys must be 0600)."""
        copy = self.root / path.name
        shutil.copyfile(path, copy)
        copy.chmod(0o600)
        if os.geteuid() == 0:
            shutil.chown(copy, "postgres", "postgres")
        return copy

    def _run(self, command: list[str]) -> None:
        done = subprocess.run([*_as_server_user(), *command], capture_output=True, text=True,
                              check=False, cwd=self.root)
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{command[0]} failed: {done.stderr or done.stdout}\n{log}")

    def url(self, database: str = "postgres", user: str = "postgres", query: str = "",
            host: str = "127.0.0.1") -> str:
        return f"postgresql://{user}@{host}:{self.port}/{database}" + (f"?{query}" if query else "")

    def admin_url(self) -> str:
        """Superuser over the Unix socket (no TLS, whatever pg_hba says for TCP)."""
        return f"postgresql://postgres@/postgres?host={self.root}&port={self.port}"

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run([*_as_server_user(), str(self._bindir / "pg_ctl"), "-D",
                            str(self.data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, check=False, cwd=self.root)
        shutil.rmtree(self.root, ignore_errors=True)
