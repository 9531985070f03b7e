"""The thumbnail child process: `python -I files/render.py JOB_JSON` renders one file's
thumbnail as WebP under CPU-time, address-space and file-size limits it sets on itself
before it reads a byte of the file.

It imports nothing of the project and runs isolated (`-I`) with an environment of PATH and
LC_ALL only, so a hostile file that subverts a decoder finds no secrets (database URL,
JWT and storage keys) and no application code. It prints
one JSON line: {"width", "height"} with exit status 0, or {"reason", "detail"} with status
2; a limit hit kills it by a signal, which the parent (files.thumbnails) reads.
"""

from __future__ import annotations

import json
import resource
import sys
import warnings
from typing import Any

FAILED = 2
PILLOW_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "heic": "HEIF"}
EXIF_ORIENTATION = 0x0112


class Failure(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def limit_self(job: dict[str, Any]) -> None:
    cpu, memory, output = job["cpu_seconds"], job["memory_bytes"], job["output_bytes"]
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU, then SIGKILL
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (output, output))


def render_pdf(job: dict[str, Any]) -> Any:
    """The first page, scaled to the width (or less, for a page taller than the box)."""
    import pypdfium2

    try:
        document = pypdfium2.PdfDocument(job["src"])
    except pypdfium2.PdfiumError as exc:
        raise Failure("unreadable", f"PDF: {exc}") from None
    if len(document) == 0:
        raise Failure("unreadable", "the PDF has no pages")
    page = document[0]
    width, height = page.get_size()
    if not (width > 0 and height > 0):
        raise Failure("unreadable", f"the first page measures {width} x {height}")
    # A hair under the exact ratio: the bitmap's size is rounded up (595 pt -> 401 px).
    scale = min(job["width"] / width, job["max_height"] / height) * (1 - 1e-9)
    return page.render(scale=scale, may_draw_forms=False).to_pil()


def render_image(job: dict[str, Any]) -> Any:
    """Decoded at the smallest size that still covers the box (JPEG), reduced to fit it,
    turned as its EXIF orientation says; never enlarged."""
    from PIL import Image, ImageOps

    # Pillow refuses twice its MAX_IMAGE_PIXELS (and only warns between once and twice).
    Image.MAX_IMAGE_PIXELS = job["max_pixels"] // 2
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
    if job["kind"] == "heic":
        from pi_heif import register_heif_opener

        register_heif_opener()
    try:
        image = Image.open(job["src"], formats=[PILLOW_FORMATS[job["kind"]]])
    except Image.DecompressionBombError as exc:
        raise Failure("too_many_pixels", str(exc)) from None
    box = (job["width"], job["max_height"])
    if image.getexif().get(EXIF_ORIENTATION, 1) >= 5:  # turned a quarter: width is height
        box = box[::-1]
    image.draft("RGB", box)
    image.thumbnail(box)
    return ImageOps.exif_transpose(image)


def save(image: Any, dest: str) -> tuple[int, int]:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    image = image.convert("RGBA" if has_alpha else "RGB")
    try:
        image.save(dest, "WEBP", quality=80, method=4)
    except OSError as exc:
        raise Failure("unwritable", f"{type(exc).__name__}: {exc}") from None
    width, height = image.size
    return int(width), int(height)


def main(argv: list[str]) -> int:
    job = json.loads(argv[1])
    limit_self(job)
    try:
        image = render_pdf(job) if job["kind"] == "pdf" else render_image(job)
        width, height = save(image, job["dest"])
    except Failure as exc:
        answer = {"reason": exc.reason, "detail": exc.detail}
    except MemoryError:
        answer = {"reason": "memory_limit", "detail": "the render ran out of its memory"}
    except Exception as exc:  # a broken file: whatever the decoder raised
        answer = {"reason": "unreadable", "detail": f"{type(exc).__name__}: {exc}"[:500]}
    else:
        print(json.dumps({"width": width, "height": height}))
        return 0
    print(json.dumps(answer))
    return FAILED


if __name__ == "__main__":
    sys.exit(main(sys.argv))
