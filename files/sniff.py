"""An upload's real type, decided from its first bytes and checked against the name's
extension and the declared MIME type: `Sniffed`, or a `Refusal` with a reason code."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum

from files import magic, zips
from files.types import (
    BY_EXTENSION,
    CSV,
    TXT,
    UNSPECIFIC_MIMES,
    ZIP,
    FileType,
    extension_of,
    normalise_mime,
)

# How many first bytes `sniff` wants (all of them when the file is shorter).
HEAD_SIZE = 64 * 1024
TEXT_TYPES = (CSV, TXT)  # plain text is a CSV or a TXT as its extension says


class Reason(StrEnum):
    EMPTY = "empty"
    EXECUTABLE = "executable"
    EXTENSION_NOT_ALLOWED = "extension_not_allowed"
    UNRECOGNISED = "unrecognised"
    EXTENSION_MISMATCH = "extension_mismatch"
    DECLARED_MISMATCH = "declared_mismatch"
    ZIP_UNLISTED = "zip_unlisted"


@dataclass(frozen=True)
class Sniffed:
    type: FileType


@dataclass(frozen=True)
class Refusal:
    reason: Reason
    detail: str


def sniff(head: bytes, file_name: str, declared: str, *,
          path: str | os.PathLike[str] | None = None) -> Sniffed | Refusal:
    """The type of a file whose first bytes are `head`. `path`, when given, is the whole
    file, read only for a ZIP's central directory when its first bytes cannot tell a
    DOCX/XLSX from another archive."""
    if not head:
        return Refusal(Reason.EMPTY, "the file is empty")
    if (what := magic.executable(head)) is not None:
        return Refusal(Reason.EXECUTABLE, f"the bytes are {what}")
    extension = extension_of(file_name)
    named = BY_EXTENSION.get(extension)
    if named is None:
        return Refusal(Reason.EXTENSION_NOT_ALLOWED,
                       f"{extension or 'a name without an extension'} is not an allowed type")
    found = _bytes_type(head, named, path)
    if isinstance(found, Refusal):
        return found
    if found != named:
        return Refusal(Reason.EXTENSION_MISMATCH,
                       f"the name says {extension} but the bytes are {found.name.upper()}")
    mime = normalise_mime(declared)
    if mime not in UNSPECIFIC_MIMES and mime not in found.mimes:
        return Refusal(Reason.DECLARED_MISMATCH,
                       f"declared {mime} but the bytes are {found.name.upper()} ({found.mime})")
    return Sniffed(found)


def sniff_file(path: str | os.PathLike[str], file_name: str, declared: str) -> Sniffed | Refusal:
    """`sniff` of a file on disk."""
    with open(path, "rb") as file:
        head = file.read(HEAD_SIZE)
    return sniff(head, file_name, declared, path=path)


def _bytes_type(head: bytes, named: FileType,
                path: str | os.PathLike[str] | None) -> FileType | Refusal:
    """What the bytes are; where bytes alone cannot choose (plain text, an archive), the
    name's type when the bytes fit it."""
    found = magic.binary_type(head)
    if found is ZIP:
        return _archive_type(head, named, path)
    if found is not None:
        return found
    text = magic.text_of(head, whole=len(head) < HEAD_SIZE)
    if text is None:
        return Refusal(Reason.UNRECOGNISED, "the bytes are none of the allowed types")
    found = magic.text_type(text)
    if found is not None:
        return found
    return named if named in TEXT_TYPES else TXT


def _archive_type(head: bytes, named: FileType,
                  path: str | os.PathLike[str] | None) -> FileType | Refusal:
    """A .zip may hold any archive, an Office document included; a .docx or .xlsx must be
    one, told by its entries."""
    if named is ZIP:
        return ZIP
    found = zips.container_type(*zips.names_in_head(head))
    if found is None and path is not None:
        names = zips.names_in_archive(path)
        if names is None:
            return Refusal(Reason.UNRECOGNISED, "the bytes are a damaged ZIP archive")
        found = zips.container_type(names, True)
    if found is None:
        return Refusal(Reason.ZIP_UNLISTED,
                       "the archive's first bytes do not list its entries; sniff the whole file")
    return found
