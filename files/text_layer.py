"""The text of a PDF's first page, read in a sandboxed child process (files/extract_text.py)
under CPU, memory and wall-clock limits: a hostile PDF costs a few seconds of one child,
never the worker. None when there is no text to be had, for whatever reason."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from files.thumbnails import CHILD_ENV

EXTRACTOR = str(Path(__file__).with_name("extract_text.py"))


@dataclass(frozen=True)
class TextLimits:
    cpu_seconds: int = 3
    memory_bytes: int = 1 << 30
    wall_seconds: float = 5.0
    max_chars: int = 20_000


DEFAULT_TEXT_LIMITS = TextLimits()


async def first_page_text(src_path: str | os.PathLike[str], *,
                          limits: TextLimits = DEFAULT_TEXT_LIMITS) -> str | None:
    job = json.dumps({"src": os.fspath(src_path), "cpu_seconds": limits.cpu_seconds,
                      "memory_bytes": limits.memory_bytes, "max_chars": limits.max_chars})
    try:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-I", EXTRACTOR, job, env=CHILD_ENV,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL)
    except OSError:
        return None
    try:
        out, _ = await asyncio.wait_for(child.communicate(), limits.wall_seconds)
    except TimeoutError:
        return None
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    if child.returncode != 0:
        return None
    try:
        answer = json.loads(out.decode("utf-8", "replace").strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    text = answer.get("text") if isinstance(answer, dict) else None
    return text if isinstance(text, str) else None
