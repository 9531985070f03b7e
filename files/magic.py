"""The byte signatures: what the first bytes of a file say it is, for the allowed types
and for the executables that are always refused."""

from __future__ import annotations

import codecs
import re

from files.types import DWG, DXF, HEIC, IFC, JPEG, PDF, PNG, WEBP, ZIP, FileType

# (prefix, format) of the executables refused whatever the name says.
EXECUTABLES: tuple[tuple[bytes, str], ...] = (
    (b"\x7fELF", "an ELF executable"),
    (b"MZ", "a Windows/DOS executable (MZ)"),
    (b"\xfe\xed\xfa\xce", "a Mach-O executable"),
    (b"\xfe\xed\xfa\xcf", "a Mach-O executable"),
    (b"\xce\xfa\xed\xfe", "a Mach-O executable"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O executable"),
    (b"\xca\xfe\xba\xbe", "a Mach-O universal binary"),
    (b"#!", "a script (#!)"),
)
# (prefix, type) of the binary formats recognised by a fixed prefix.
PREFIXES: tuple[tuple[bytes, FileType], ...] = (
    (b"%PDF-", PDF),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"AutoCAD Binary DXF\r\n\x1a\x00", DXF),
    (b"PK\x03\x04", ZIP),
    (b"PK\x05\x06", ZIP),  # an empty archive
)
DWG_VERSION = re.compile(rb"AC10[0-3]\d")  # AC1012 (R13) .. AC1032 (2018+)
# ISO-BMFF brands of HEIF images coded with HEVC; an AVIF (av01) is not one of them.
HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm",
                         b"hevs"})
HEIF_GENERIC = frozenset({b"mif1", b"msf1"})
IFC_SCHEMA = re.compile(r"FILE_SCHEMA\s*\(\s*\(\s*'IFC", re.IGNORECASE)
BOM = b"\xef\xbb\xbf"


def executable(head: bytes) -> str | None:
    """What kind of executable the bytes are, or None."""
    return next((what for prefix, what in EXECUTABLES if head.startswith(prefix)), None)


def binary_type(head: bytes) -> FileType | None:
    """The allowed binary type the signature names, or None."""
    for prefix, kind in PREFIXES:
        if head.startswith(prefix):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if DWG_VERSION.match(head):
        return DWG
    if head[4:8] == b"ftyp" and _is_heic(head):
        return HEIC
    return None


def _is_heic(head: bytes) -> bool:
    box_size = int.from_bytes(head[:4], "big")
    end = min(box_size, len(head)) if box_size >= 16 else 16
    brands = {head[8:12]} | {head[i:i + 4] for i in range(16, end - 3, 4)}
    if brands & HEIC_BRANDS:
        return True
    return bool(brands & HEIF_GENERIC) and b"avif" not in brands and b"avis" not in brands


def text_of(head: bytes, *, whole: bool) -> str | None:
    """The head as text when it is UTF-8 without NULs (a BOM allowed), else None. When the
    head is not the whole file, a character cut at its end is not an error."""
    if b"\x00" in head:
        return None
    body = head.removeprefix(BOM)
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(body, final=whole)
    except UnicodeDecodeError:
        return None


def text_type(text: str) -> FileType | None:
    """DXF or IFC when the text opens like one; None for other text (CSV or TXT)."""
    if _opens_dxf(text):
        return DXF
    stripped = text.lstrip()
    if stripped.startswith("ISO-10303-21;") and IFC_SCHEMA.search(stripped):
        return IFC
    return None


def _opens_dxf(text: str) -> bool:
    """A DXF is pairs of lines (group code, value); after any 999 comments the first pair is
    0 / SECTION."""
    lines = text.splitlines()
    for index in range(0, len(lines) - 1, 2):
        code, value = lines[index].strip(), lines[index + 1].strip()
        if code != "999":
            return code == "0" and value == "SECTION"
    return False
