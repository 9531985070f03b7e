"""Thumbnails in a sandboxed child: each previewable type renders to a 400 px WebP; a
hostile or broken file fails with a reason within a few seconds, the test process
survives, and no child is left running or unreaped."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import pytest
from PIL import Image

from files.thumbnails import (
    DEFAULT_LIMITS,
    Failed,
    Limits,
    Rendered,
    render_thumbnail,
)
from tests.files import samples
from tests.files.children import render_children
from tests.waiting import eventually

# A bound on how long a hostile file may hold a render with the default limits (4 s of CPU,
# 6 s of wall clock): a check that the kill works, not a measure of speed.
HOSTILE_SECONDS = 10


async def render(tmp_path: Path, kind: str, data: bytes,
                 limits: Limits = DEFAULT_LIMITS) -> tuple[Rendered | Failed, Path]:
    src = samples.write(tmp_path, f"upload.{kind}", data)
    dest = tmp_path / "upload.thumb"
    outcome = await render_thumbnail(src, kind, dest, limits=limits)
    assert render_children() == []
    assert not dest.with_name(dest.name + ".part").exists()
    return outcome, dest


def webp_size(path: Path) -> tuple[int, int]:
    with Image.open(path, formats=["WEBP"]) as image:
        return image.size


@pytest.mark.parametrize(("kind", "fmt"), [
    ("png", "PNG"), ("jpeg", "JPEG"), ("heic", "HEIF"), ("webp", "WEBP")])
async def test_an_image_is_reduced_to_400_pixels_wide(kind: str, fmt: str,
                                                      tmp_path: Path) -> None:
    outcome, dest = await render(tmp_path, kind, samples.image(fmt, (1200, 800)))
    assert outcome == Rendered(400, 267)
    assert webp_size(dest) == (400, 267)


async def test_a_pdf_renders_its_first_page_400_pixels_wide(tmp_path: Path) -> None:
    outcome, dest = await render(tmp_path, "pdf", samples.simple_pdf())
    assert outcome == Rendered(400, 567)  # A4: 595 x 842 pt, rounded up
    with Image.open(dest) as image:
        blue = image.convert("RGB").getpixel((100, 400))  # inside the blue box
    assert isinstance(blue, tuple)
    assert all(abs(got - want) <= 8 for got, want in zip(blue, (51, 102, 204), strict=True))


async def test_a_heavy_a1_sheet_renders(tmp_path: Path) -> None:
    outcome, dest = await render(tmp_path, "pdf", samples.a1_sheet())
    assert outcome == Rendered(400, 283)
    assert webp_size(dest) == (400, 283)


async def test_a_small_image_is_not_enlarged_and_a_tall_page_is_bounded(
        tmp_path: Path) -> None:
    small, _ = await render(tmp_path, "png", samples.image("PNG", (120, 80)))
    assert small == Rendered(120, 80)
    strip = samples.one_page_pdf(b"0 0 0 rg 0 0 100 5000 re f", (100, 5000))
    tall, _ = await render(tmp_path, "pdf", strip)
    assert tall == Rendered(32, 1600)  # four widths tall at most


async def test_a_photo_is_turned_as_its_exif_orientation_says(tmp_path: Path) -> None:
    picture = Image.new("RGB", (1200, 800), (10, 10, 10))
    exif = picture.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    out = io.BytesIO()
    picture.save(out, "JPEG", exif=exif)
    outcome, dest = await render(tmp_path, "jpeg", out.getvalue())
    assert outcome == Rendered(400, 600)
    assert webp_size(dest) == (400, 600)


async def test_a_type_without_a_preview_fails_without_a_child(tmp_path: Path) -> None:
    outcome, dest = await render(tmp_path, "dwg", samples.DWG)
    assert outcome == Failed("not_previewable", "no thumbnail is rendered for dwg")
    assert not dest.exists()


async def test_a_30000_pixel_square_png_is_refused_before_it_is_decoded(
        tmp_path: Path) -> None:
    started = time.monotonic()
    outcome, dest = await render(tmp_path, "png", samples.huge_png())
    assert isinstance(outcome, Failed) and outcome.reason == "too_many_pixels"
    assert "900000000 pixels" in outcome.detail
    assert time.monotonic() - started < HOSTILE_SECONDS
    assert not dest.exists()


async def test_a_pdf_of_nested_forms_is_stopped_by_its_cpu_limit(tmp_path: Path) -> None:
    started = time.monotonic()
    outcome, dest = await render(tmp_path, "pdf", samples.nested_forms_bomb())
    assert isinstance(outcome, Failed)
    # On an idle machine the CPU limit fires first; on a starved one, the wall clock.
    assert outcome.reason in ("cpu_limit", "timeout"), outcome
    assert time.monotonic() - started < HOSTILE_SECONDS
    assert not dest.exists()


async def test_a_pdf_inflating_to_gigabytes_is_stopped_by_its_memory_limit(
        tmp_path: Path) -> None:
    started = time.monotonic()
    outcome, dest = await render(tmp_path, "pdf", samples.inflation_bomb())
    assert isinstance(outcome, Failed)
    assert outcome.reason in ("crashed", "memory_limit", "cpu_limit", "timeout"), outcome
    assert time.monotonic() - started < HOSTILE_SECONDS
    assert not dest.exists()


async def test_a_render_past_its_wall_clock_is_killed(tmp_path: Path) -> None:
    limits = Limits(cpu_seconds=60, wall_seconds=1)
    started = time.monotonic()
    outcome, _ = await render(tmp_path, "pdf", samples.nested_forms_bomb(), limits)
    assert outcome == Failed("timeout", "the render took longer than 1 s")
    assert time.monotonic() - started < 3


async def test_a_cancelled_render_kills_its_child(tmp_path: Path) -> None:
    src = samples.write(tmp_path, "bomb.pdf", samples.nested_forms_bomb())
    task = asyncio.create_task(render_thumbnail(
        src, "pdf", tmp_path / "bomb.webp", limits=Limits(cpu_seconds=60, wall_seconds=60)))
    await eventually(render_children, interval=0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert render_children() == []
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bomb.pdf"]  # noqa: ASYNC240


@pytest.mark.parametrize(("kind", "data"), [
    ("png", samples.image("PNG")[:2000]),
    ("jpeg", samples.image("JPEG")[:5000]),
    ("heic", samples.image("HEIF")[:600]),
    ("webp", samples.image("WEBP")[:900]),
    ("pdf", samples.simple_pdf()[:200]),
    ("png", samples.image("JPEG")),  # a JPEG is not decoded as the PNG it claims to be
    ("pdf", b"%PDF-1.7\n" + bytes(range(256)) * 20),
])
async def test_a_truncated_or_broken_file_fails_cleanly(kind: str, data: bytes,
                                                        tmp_path: Path) -> None:
    outcome, dest = await render(tmp_path, kind, data)
    assert isinstance(outcome, Failed) and outcome.reason == "unreadable", outcome
    assert not dest.exists()


async def test_a_missing_file_fails_cleanly(tmp_path: Path) -> None:
    outcome = await render_thumbnail(tmp_path / "gone.pdf", "pdf", tmp_path / "t.webp")
    assert isinstance(outcome, Failed) and outcome.reason == "unreadable"


async def test_an_unwritable_destination_fails_cleanly(tmp_path: Path) -> None:
    src = samples.write(tmp_path, "a.png", samples.image("PNG"))
    outcome = await render_thumbnail(src, "png", tmp_path / "gone" / "a.thumb.webp")
    assert isinstance(outcome, Failed) and outcome.reason == "unwritable", outcome


async def test_the_child_sees_none_of_our_environment(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # A hostile PYTHONPATH would make the child import a planted module; -I and an empty
    # environment mean it never looks there.
    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "json.py").write_text("raise SystemExit(99)\n")
    monkeypatch.setenv("PYTHONPATH", str(planted))
    outcome, _ = await render(tmp_path, "png", samples.image("PNG"))
    assert outcome == Rendered(400, 267)
