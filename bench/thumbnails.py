"""Thumbnail time per sheet and image type, each rendered in its sandboxed child process
(files.thumbnails) with the default limits, as the worker's queue renders it.

    .venv/bin/python bench/thumbnails.py [--runs 5]

Prints, per type, the median and the slowest of `--runs` renders (child start-up included:
the "tiny PNG" row is that start-up alone), and how long each hostile file holds a render
before it fails. Run it alone: the figures are wall-clock times on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from files.thumbnails import Failed, Rendered, render_thumbnail
from tests.files import samples

CASES: list[tuple[str, str, Callable[[], bytes]]] = [
    ("tiny PNG (child start-up)", "png", lambda: samples.image("PNG", (8, 8))),
    ("A4 page, a few paths", "pdf", samples.simple_pdf),
    ("A1 sheet, 50k line segments", "pdf", samples.a1_sheet),
    ("A1 sheet, 200k line segments", "pdf", lambda: samples.a1_sheet(200_000)),
    ("A1 scan, 4967x3508 JPEG in a PDF", "pdf", samples.scanned_sheet),
    ("JPEG photo 4032x3024", "jpeg", lambda: samples.image("JPEG", (4032, 3024), photo=True)),
    ("HEIC photo 4032x3024", "heic", lambda: samples.image("HEIF", (4032, 3024), photo=True)),
    ("PNG 4000x3000", "png", lambda: samples.image("PNG", (4000, 3000), photo=True)),
    ("WebP 4000x3000", "webp", lambda: samples.image("WEBP", (4000, 3000), photo=True)),
]
HOSTILE: list[tuple[str, str, Callable[[], bytes]]] = [
    ("PNG 30000x30000 (pixel limit)", "png", samples.huge_png),
    ("PDF of nested forms (CPU limit)", "pdf", samples.nested_forms_bomb),
    ("PDF inflating to 1.5 GB (memory limit)", "pdf", samples.inflation_bomb),
    ("truncated JPEG", "jpeg", lambda: samples.image("JPEG", (4032, 3024), photo=True)[:50_000]),
]


async def timed(src: Path, kind: str, dest: Path) -> tuple[float, Rendered | Failed]:
    started = time.perf_counter()
    outcome = await render_thumbnail(src, kind, dest)
    return time.perf_counter() - started, outcome


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        print("| type | file | median | slowest | thumbnail |\n|---|---|---|---|---|")
        for label, kind, make in CASES:
            data = make()
            src = samples.write(folder, f"src.{kind}", data)
            results = [await timed(src, kind, folder / "t.webp") for _ in range(runs)]
            times = [seconds for seconds, _ in results]
            outcome = results[-1][1]
            shown = (f"{outcome.width}x{outcome.height}" if isinstance(outcome, Rendered)
                     else f"FAILED {outcome.reason}")
            print(f"| {label} | {len(data) / 1e6:.2f} MB | {statistics.median(times):.2f} s"
                  f" | {max(times):.2f} s | {shown} |")
        print("\n| hostile file | file | failed after | reason |\n|---|---|---|---|")
        for label, kind, make in HOSTILE:
            data = make()
            src = samples.write(folder, f"src.{kind}", data)
            seconds, outcome = await timed(src, kind, folder / "t.webp")
            reason = outcome.reason if isinstance(outcome, Failed) else "RENDERED"
            print(f"| {label} | {len(data) / 1e6:.2f} MB | {seconds:.2f} s | {reason} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
