"""`python -m server serve` as a subprocess with its own environment, its stdout and stderr
kept apart (people read stdout; stderr carries the JSON logs and the one-line errors)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.waiting import until_healthy

ROOT = Path(__file__).resolve().parents[1]
# What the service reads; the test's own environment must not leak into the child.
SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "JWT_SECRET", "HOST", "PORT", "DATA_DIR",
                     "FPM_ENV", "LOG_LEVEL", "PUBLIC_URL", "SMTP_URL", "XDG_RUNTIME_DIR")


class Serve:
    def __init__(self, env: Mapping[str, str], folder: Path, port: int) -> None:
        base = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
        self.env = {**base, "LOG_LEVEL": "INFO", **env, "PORT": str(port)}
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.stdout_path = folder / f"serve-{port}.out"
        self.stderr_path = folder / f"serve-{port}.err"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server", "serve"], cwd=ROOT, env=self.env,
                stdout=out, stderr=err)

    def run(self, timeout: float = 60) -> int:
        """Start and wait for the end (a start-up that must fail)."""
        self.start()
        assert self.process is not None
        return self.process.wait(timeout)

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def logs(self) -> list[dict[str, Any]]:
        """stderr's JSON log lines."""
        return [json.loads(line) for line in self.stderr.splitlines()
                if line.startswith("{")]

    async def ready(self, limit: float = 120) -> None:
        await until_healthy(self.url, limit=limit, log=lambda: self.stderr,
                            alive=lambda: self.process is not None and self.process.poll() is None)

    async def signal(self, number: signal.Signals, limit: float = 15) -> tuple[int, float]:
        """Send `number`; (exit code, seconds until the process ended)."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(number)
        try:
            await asyncio.to_thread(self.process.wait, limit)
        except subprocess.TimeoutExpired:
            self.stop()
        return self.process.returncode, time.monotonic() - started

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
