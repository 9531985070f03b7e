"""The file types an upload may have: name, canonical MIME type, the MIME types browsers
and tools also send for it, and its file name extensions."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileType:
    name: str
    mime: str
    extensions: tuple[str, ...]
    # Other MIME types clients declare for the same bytes (Windows browsers send
    # application/vnd.ms-excel for a .csv and application/x-zip-compressed for a .zip).
    aliases: tuple[str, ...] = ()

    @property
    def mimes(self) -> tuple[str, ...]:
        return (self.mime, *self.aliases)


PDF = FileType("pdf", "application/pdf", (".pdf",), ("application/x-pdf",))
PNG = FileType("png", "image/png", (".png",))
JPEG = FileType("jpeg", "image/jpeg", (".jpg", ".jpeg"), ("image/jpg", "image/pjpeg"))
HEIC = FileType("heic", "image/heic", (".heic", ".heif"),
                ("image/heif", "image/heic-sequence", "image/heif-sequence"))
WEBP = FileType("webp", "image/webp", (".webp",))
DWG = FileType("dwg", "image/vnd.dwg", (".dwg",),
               ("application/acad", "application/x-acad", "application/dwg",
                "application/x-dwg", "image/x-dwg"))
DXF = FileType("dxf", "image/vnd.dxf", (".dxf",),
               ("application/dxf", "application/x-dxf", "image/x-dxf"))
# IFC's usual file is a STEP physical file (ISO 10303-21); buildingSMART gives it
# application/x-step, and IANA has since registered model/step for STEP.
IFC = FileType("ifc", "application/x-step", (".ifc",),
               ("model/step", "model/ifc", "application/ifc", "application/x-ifc"))
XLSX = FileType("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                (".xlsx",))
DOCX = FileType("docx",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                (".docx",))
CSV = FileType("csv", "text/csv", (".csv",),
               ("application/csv", "text/x-csv", "text/comma-separated-values",
                "application/vnd.ms-excel", "text/plain"))
TXT = FileType("txt", "text/plain", (".txt",))
ZIP = FileType("zip", "application/zip", (".zip",),
               ("application/x-zip-compressed", "application/x-zip", "multipart/x-zip"))

ALLOWED: tuple[FileType, ...] = (PDF, PNG, JPEG, HEIC, WEBP, DWG, DXF, IFC, XLSX, DOCX, CSV,
                                 TXT, ZIP)
BY_NAME = {t.name: t for t in ALLOWED}
BY_EXTENSION = {ext: t for t in ALLOWED for ext in t.extensions}
# Declared types that claim nothing: the bytes alone decide.
UNSPECIFIC_MIMES = frozenset({"", "application/octet-stream", "binary/octet-stream",
                              "application/unknown"})
# The types a thumbnail is rendered for (files.thumbnails).
PREVIEWABLE = frozenset({PDF.name, PNG.name, JPEG.name, HEIC.name, WEBP.name})


def extension_of(file_name: str) -> str:
    """The lower-cased extension with its dot ('' when the name has none)."""
    base = file_name.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ext = base.rpartition(".")
    return f".{ext.lower()}" if dot and stem else ""


def normalise_mime(declared: str) -> str:
    """`Image/JPEG; charset=x` -> `image/jpeg`."""
    return declared.split(";", 1)[0].strip().lower()
