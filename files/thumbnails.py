"""Thumbnails rendered in a sandboxed child process (files/render.py): never in the
caller's process, where a decoder stuck in C could not be stopped. A bad or hostile file
yields `Failed(reason)`; nothing here raises for one, and no child outlives its call."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from files.types import PREVIEWABLE

RENDERER = str(Path(__file__).with_name("render.py"))
THUMBNAIL_MIME = "image/webp"  # stored beside its object under storage.keys.thumbnail_key
# The child gets no environment of ours: no database URL, no keys, no PYTHONPATH.
CHILD_ENV = {"PATH": os.defpath, "LC_ALL": "C.UTF-8"}
SIGNALLED: dict[int, tuple[str, str]] = {
    signal.SIGXCPU: ("cpu_limit", "the render used up its CPU time"),
    signal.SIGXFSZ: ("output_too_large", "the thumbnail outgrew its file size limit"),
    signal.SIGKILL: ("killed", "the render was killed"),
    # PDFium aborts when an allocation fails: mostly the address-space limit at work.
    signal.SIGABRT: ("crashed", "the render aborted, most often out of its memory"),
}


@dataclass(frozen=True)
class Limits:
    """What one render may use. The CPU limit stops a render that computes forever (a PDF
    of nested forms), the address-space limit one that allocates without end, the wall
    clock one that waits or is starved, the pixel limit an image whose header claims more
    pixels than any drawing or photo has (checked before it is decoded)."""

    cpu_seconds: int = 4
    memory_bytes: int = 1 << 30
    wall_seconds: float = 6.0
    max_pixels: int = 100_000_000
    output_bytes: int = 16 << 20
    max_height_ratio: int = 4  # a thumbnail is at most 4 widths tall


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Rendered:
    width: int
    height: int


@dataclass(frozen=True)
class Failed:
    reason: str
    detail: str


async def render_thumbnail(src_path: str | os.PathLike[str], kind: str,
                           dest_path: str | os.PathLike[str], width: int = 400, *,
                           limits: Limits = DEFAULT_LIMITS) -> Rendered | Failed:
    """Render `src_path` (of type `kind`, a files.types name) to a WebP `width` pixels wide
    (narrower for a page taller than `max_height_ratio` widths; never enlarged) at
    `dest_path`, which is written whole or not at all."""
    if kind not in PREVIEWABLE:
        return Failed("not_previewable", f"no thumbnail is rendered for {kind}")
    dest = Path(dest_path)
    part = dest.with_name(dest.name + ".part")
    job = {"src": os.fspath(src_path), "kind": kind, "dest": str(part), "width": width,
           "max_height": width * limits.max_height_ratio, **asdict(limits)}
    try:
        outcome = await _run_child(json.dumps(job), limits.wall_seconds)
        if isinstance(outcome, Rendered):
            return _keep(part, dest) or outcome
        return outcome
    finally:
        part.unlink(missing_ok=True)


def _keep(part: Path, dest: Path) -> Failed | None:
    try:
        part.replace(dest)
    except OSError as exc:  # the destination's folder went away: not the file's fault
        return Failed("unwritable", f"{type(exc).__name__}: {exc}")
    return None


async def _run_child(job: str, wall_seconds: float) -> Rendered | Failed:
    try:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-I", RENDERER, job, env=CHILD_ENV,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
    except OSError as exc:  # no process to be had (EAGAIN, ENOMEM): try again later
        return Failed("not_started", f"{type(exc).__name__}: {exc}")
    try:
        out, err = await asyncio.wait_for(child.communicate(), wall_seconds)
    except TimeoutError:
        return Failed("timeout", f"the render took longer than {wall_seconds:g} s")
    finally:
        if child.returncode is None:  # timed out, or our caller was cancelled
            child.kill()
            await child.wait()
    return _outcome(child.returncode, out, err)


def _outcome(status: int | None, out: bytes, err: bytes) -> Rendered | Failed:
    lines = out.decode("utf-8", "replace").strip().splitlines()
    answer = _json(lines[-1]) if lines else {}
    if status == 0 and {"width", "height"} <= answer.keys():
        return Rendered(int(answer["width"]), int(answer["height"]))
    if status == 2 and {"reason", "detail"} <= answer.keys():
        return Failed(str(answer["reason"]), str(answer["detail"]))
    tail = err.decode("utf-8", "replace").strip()[-300:]
    if status is not None and status < 0:
        reason, detail = SIGNALLED.get(-status, ("crashed", "the render crashed"))
        return Failed(reason, f"{detail} ({_signal_name(-status)}) {tail}".strip())
    return Failed("crashed", f"the render exited with status {status} {tail}".strip())


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _json(line: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
