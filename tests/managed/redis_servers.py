"""Private redis-servers with a password, an ACL user and TLS, on free ports."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.conftest import _free_port


class SecuredRedis:
    """`requirepass` + an ACL user on a plain port, and the same over TLS on another."""

    password = "redis-test-password-1"
    user, user_password = "formula", "acl-user-password-2"

    def __init__(self, cert: Path, key: Path, ca: Path) -> None:
        self.port, self.tls_port = _free_port(), _free_port()
        self.dir = tempfile.mkdtemp(prefix="fpm-redis-secured-")
        self.ca = ca
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", self.dir,
             "--requirepass", self.password,
             "--user", self.user, "on", f">{self.user_password}", "~*", "&*", "+@all",
             "--tls-port", str(self.tls_port), "--tls-cert-file", str(cert),
             "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca),
             "--tls-auth-clients", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                if redis.Redis.from_url(self.url(), socket_connect_timeout=1).ping():
                    break
            except (redis.RedisError, OSError):
                if time.monotonic() > deadline:
                    raise RuntimeError("secured redis-server did not start") from None
                time.sleep(0.05)

    def url(self, *, acl: bool = False, password: str | None = None) -> str:
        who = (f"{self.user}:{password or self.user_password}@" if acl
               else f":{password or self.password}@")
        return f"redis://{who}127.0.0.1:{self.port}/0"

    def tls_url(self) -> str:
        return (f"rediss://:{self.password}@127.0.0.1:{self.tls_port}/0"
                f"?ssl_cert_reqs=required&ssl_ca_certs={self.ca}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)
