"""The first page's text layer, read in a limited child: the bulk upload's fallback guess."""

from __future__ import annotations

from pathlib import Path

from files.text_layer import TextLimits, first_page_text
from rules.drawings_register import guess_from_text
from tests.files.text_pdfs import text_pdf


async def test_title_block_text_is_read_and_guessed(tmp_path: Path) -> None:
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(text_pdf(["PROJECT: Level 3 Fit-Out", "DRAWING TITLE: Ground Floor Plan",
                              "DRAWING NO. A-101   REV: P02"]))
    text = await first_page_text(pdf)
    assert text is not None and "A-101" in text
    guess = guess_from_text(text)
    assert (guess.number, guess.title, guess.revision, guess.source) == (
        "A-101", "Ground Floor Plan", "P02", "text")


async def test_bad_files_give_no_text(tmp_path: Path) -> None:
    for name, data in (("broken.pdf", b"%PDF-1.4 nothing else"), ("exe.pdf", b"MZ\x90\x00" * 64),
                       ("empty.pdf", b"")):
        path = tmp_path / name
        path.write_bytes(data)
        assert await first_page_text(path) is None, name
    assert await first_page_text(tmp_path / "missing.pdf") is None


async def test_the_text_is_bounded(tmp_path: Path) -> None:
    pdf = tmp_path / "long.pdf"
    pdf.write_bytes(text_pdf([f"line {i} " + "x" * 60 for i in range(40)]))
    text = await first_page_text(pdf, limits=TextLimits(max_chars=100))
    assert text is not None and len(text) == 100
