"""Real sample files of every allowed type, and hostile ones, generated here (PDFs written
by hand so that their structure is exactly what a test needs)."""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import pillow_heif
from PIL import Image

A1 = (2384, 1684)  # 841 x 594 mm in points, landscape
A4 = (595, 842)


def pdf(objects: Sequence[bytes]) -> bytes:
    """A PDF of these objects (1 is the catalog), with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def stream(data: bytes, entries: bytes = b"", *, deflate: bool = False) -> bytes:
    if deflate:
        data, entries = zlib.compress(data, 9), entries + b" /Filter /FlateDecode"
    return b"<< /Length %d%s >>\nstream\n" % (len(data), entries) + data + b"\nendstream"


def page_objects(size: tuple[int, int] = A4, resources: bytes = b"<< >>") -> list[bytes]:
    """Catalog 1, pages 2 and page 3, whose content is object 4."""
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources %s /Contents 4 0 R >>"
        % (*size, resources),
    ]


def one_page_pdf(content: bytes, size: tuple[int, int] = A4, resources: bytes = b"<< >>",
                 extra: Sequence[bytes] = (), *, deflate: bool = False) -> bytes:
    """One page of this content; `extra` objects are numbered from 5 on."""
    return pdf([*page_objects(size, resources), stream(content, deflate=deflate), *extra])


def simple_pdf() -> bytes:
    return one_page_pdf(b"0.2 0.4 0.8 rg 50 50 300 400 re f 0 0 0 RG 4 w 50 50 m 545 792 l S")


def a1_sheet(segments: int = 50_000, seed: int = 7) -> bytes:
    """An A1 drawing sheet of `segments` separately stroked line segments, deflated as a
    CAD program writes it."""
    rng = random.Random(seed)
    width, height = A1
    lines = [b"0.3 w 0 0 0 RG"]
    for _ in range(segments):
        x, y = rng.uniform(20, width - 20), rng.uniform(20, height - 20)
        lines.append(b"%.2f %.2f m %.2f %.2f l S" % (
            x, y, x + rng.uniform(-60, 60), y + rng.uniform(-60, 60)))
    return one_page_pdf(b"\n".join(lines), A1, deflate=True)


def scanned_sheet(size: tuple[int, int] = (4967, 3508)) -> bytes:
    """An A1 sheet that is one scanned JPEG (150 dpi by default), as a plotter scan is."""
    scan = io.BytesIO()
    photo_like(size).convert("L").save(scan, "JPEG", quality=85)
    width, height = A1
    image = stream(scan.getvalue(), b" /Type /XObject /Subtype /Image /Width %d /Height %d"
                   b" /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode" % size)
    return one_page_pdf(b"q %d 0 0 %d 0 0 cm /Scan Do Q" % (width, height), A1,
                        b"<< /XObject << /Scan 5 0 R >> >>", [image])


def nested_forms_bomb(depth: int = 8, fan_out: int = 10) -> bytes:
    """A CPU bomb: form k draws form k-1 `fan_out` times, so the page draws the 200-segment
    form 0 fan_out**depth times from a file of a few kilobytes."""
    form0 = b" ".join(b"%d 0 m %d 100 l" % (i, 200 - i) for i in range(200)) + b" S"
    forms = [stream(form0, b" /Type /XObject /Subtype /Form /BBox [0 0 200 200]")]
    for level in range(1, depth + 1):
        draws = b" ".join(b"q 0.9 0 0 0.9 %d %d cm /F Do Q" % (i, i) for i in range(fan_out))
        forms.append(stream(
            draws, b" /Type /XObject /Subtype /Form /BBox [0 0 200 200]"
                   b" /Resources << /XObject << /F %d 0 R >> >>" % (5 + level - 1)))
    top = 5 + depth
    return one_page_pdf(b"/F Do", A4, b"<< /XObject << /F %d 0 R >> >>" % top, forms)


def inflation_bomb(megabytes: int = 1536) -> bytes:
    """A memory bomb: a content stream of a megabyte or two that inflates to `megabytes` MB
    of path operators. One deflated, byte-aligned megabyte is repeated (a full flush
    makes the copies independent), so it is built in a fraction of a second."""
    chunk = b"1 1 m 2 2 l " * (2**20 // 12)
    block = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = block.compress(chunk) + block.flush(zlib.Z_FULL_FLUSH)
    copies = megabytes * 2**20 // len(chunk)
    checksum = 1
    for _ in range(copies):
        checksum = zlib.adler32(chunk, checksum)
    data = (b"\x78\xda" + segment * copies + zlib.compressobj(9, zlib.DEFLATED, -15).flush()
            + struct.pack(">I", checksum))
    content = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data)
    return pdf([*page_objects(), content + data + b"\nendstream"])


def photo_like(size: tuple[int, int]) -> Image.Image:
    """Gradients and noise: decodes and compresses like a photo, unlike a flat colour."""
    noise = Image.effect_noise(size, 40)
    ramp = Image.linear_gradient("L").resize(size)
    return Image.merge("RGB", (noise, ramp, Image.blend(noise, ramp, 0.5)))


def image(fmt: str, size: tuple[int, int] = (1200, 800), *, photo: bool = False) -> bytes:
    if fmt == "HEIF":
        pillow_heif.register_heif_opener()
    if photo:
        picture = photo_like(size)
    else:
        picture = Image.new("RGB", size, (40, 90, 160))
        picture.paste((220, 200, 40), (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))
    out = io.BytesIO()
    picture.save(out, fmt)
    return out.getvalue()


def huge_png(side: int = 30_000) -> bytes:
    """A real side x side 1-bit PNG, all white: ~110 kB on disk, 900 megapixels decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))

    row = b"\x00" + b"\xff" * ((side + 7) // 8)
    deflater = zlib.compressobj(9)
    idat = b"".join(deflater.compress(row * 1000) for _ in range(side // 1000))
    idat += deflater.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


def zip_of(entries: Sequence[tuple[str, bytes]], *, stored: bool = False) -> bytes:
    out = io.BytesIO()
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return out.getvalue()


CONTENT_TYPES = (b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                 b'package/2006/content-types"/>')


def docx() -> bytes:
    return zip_of([("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", b"<Relationships/>"),
                   ("word/document.xml", b"<w:document/>")])


def xlsx() -> bytes:
    return zip_of([("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", b"<Relationships/>"),
                   ("xl/workbook.xml", b"<workbook/>")])


def xlsx_listed_last() -> bytes:
    """An XLSX as openpyxl writes it ([Content_Types].xml last), with a first entry larger
    than the sniffed head, so that only the central directory tells what it is."""
    return zip_of([("xl/media/image1.png", random.Random(1).randbytes(100_000)),
                   ("xl/workbook.xml", b"<workbook/>"), ("[Content_Types].xml", CONTENT_TYPES)],
                  stored=True)


DXF = b"  0\r\nSECTION\r\n  2\r\nHEADER\r\n  9\r\n$ACADVER\r\n  1\r\nAC1032\r\n  0\r\nENDSEC\r\n"
IFC = (b"ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('ViewDefinition [CoordinationView]'),'2;1');"
       b"\nFILE_NAME('fitout.ifc','2026-01-01T00:00:00',(''),(''),'','','');\n"
       b"FILE_SCHEMA(('IFC4'));\nENDSEC;\nDATA;\n#1=IFCPROJECT('0YvctVUKr0kugbFTf53O9L',$,"
       b"'Fit-out',$,$,$,$,$,$);\nENDSEC;\nEND-ISO-10303-21;\n")
DWG = b"AC1032" + bytes(range(250)) * 8


def samples() -> dict[str, bytes]:
    """One real file of every allowed type, by type name."""
    return {
        "pdf": simple_pdf(), "png": image("PNG"), "jpeg": image("JPEG"),
        "heic": image("HEIF"), "webp": image("WEBP"), "dwg": DWG, "dxf": DXF, "ifc": IFC,
        "xlsx": xlsx(), "docx": docx(), "csv": "kalem,miktar\nÇimento,12\n".encode(),
        "txt": "Şantiye notları: ölçüler kontrol edildi.\n".encode(),
        "zip": zip_of([("notes.txt", b"hello")]),
    }


def write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path
