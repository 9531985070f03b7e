"""What a ZIP archive holds, enough to tell an Office document (DOCX, XLSX) from any other
archive: from the local headers in its first bytes, or else from its central directory."""

from __future__ import annotations

import os
import struct
import zipfile

from files.types import DOCX, XLSX, ZIP, FileType

LOCAL_HEADER = struct.Struct("<4s2x2H8xLL2H")  # signature, flags, method, .., sizes, lengths
LOCAL = b"PK\x03\x04"
CENTRAL = b"PK\x01\x02"
DATA_DESCRIPTOR = 0x08
ZIP64 = 0xFFFFFFFF


def names_in_head(head: bytes) -> tuple[list[str], bool]:
    """The entry names whose local headers lie in `head`, and whether they are all of the
    archive's entries (the walk reached the central directory)."""
    names: list[str] = []
    offset = 0
    while head[offset:offset + 4] == LOCAL:
        if offset + LOCAL_HEADER.size > len(head):
            return names, False
        _, flags, _, compressed, _, name_len, extra_len = LOCAL_HEADER.unpack_from(head, offset)
        start = offset + LOCAL_HEADER.size
        names.append(head[start:start + name_len].decode("utf-8", "replace"))
        if (flags & DATA_DESCRIPTOR and compressed == 0) or compressed == ZIP64:
            return names, False  # the size is after the data: the next header is unknown
        offset = start + name_len + extra_len + compressed
    return names, head[offset:offset + 4] == CENTRAL or head[:4] == b"PK\x05\x06"


def names_in_archive(path: str | os.PathLike[str]) -> list[str] | None:
    """Every entry name, from the central directory (nothing is decompressed); None when
    the file is not a readable archive."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None


def container_type(names: list[str], complete: bool) -> FileType | None:
    """DOCX, XLSX or plain ZIP; None when an incomplete listing cannot tell."""
    if "[Content_Types].xml" in names:
        if any(name.startswith("word/") for name in names):
            return DOCX
        if any(name.startswith("xl/") for name in names):
            return XLSX
    return ZIP if complete else None
