"""The storage side of an attachment, for its routes: the content type an upload is bound
to, the upload instructions a client gets (one request, or parts), the checks a completed
upload must pass (size, real type from the bytes, checksum), and a file streamed to the
client with headers no browser misreads."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from files.sniff import HEAD_SIZE, Reason, Refusal, Sniffed, sniff, sniff_file
from files.types import BY_EXTENSION, UNSPECIFIC_MIMES, FileType, extension_of, normalise_mime
from storage.backend import MULTIPART_THRESHOLD, MultipartUpload, Storage
from storage.disposition import content_disposition
from storage.errors import IncompleteUpload, NotStored
from storage.local import LocalStorage

API = "/api/v1/attachments"
MAX_PARTS_PER_ANSWER = 100  # part URLs handed out at once; POST …/parts for more
# What a download may do in a browser: nothing (no script, no plugin, no form, no frame).
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Cache-Control": "private, no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def content_path(attachment_id: object) -> str:
    return f"{API}/{attachment_id}/content"


def file_type(file_name: str) -> FileType | None:
    """The allowed type the name's extension says, None when it is none of them."""
    return BY_EXTENSION.get(extension_of(file_name))


def bound_content_type(kind: FileType, declared: str) -> str | None:
    """The Content-Type the upload must carry: the declared one when it is one of the
    type's, the type's own when the client named none (browsers say nothing for .dwg);
    None when the declared type contradicts the name."""
    mime = normalise_mime(declared)
    if mime in UNSPECIFIC_MIMES:
        return kind.mime
    return mime if mime in kind.mimes else None


def is_multipart(size: int) -> bool:
    return size > MULTIPART_THRESHOLD


def upload_of(row: Mapping[str, Any]) -> MultipartUpload | None:
    return MultipartUpload(row["upload_id"], row["size"]) if row["upload_id"] else None


async def part_targets(storage: Storage, row: Mapping[str, Any],
                       numbers: Sequence[int]) -> list[dict[str, Any]]:
    upload = upload_of(row)
    assert upload is not None
    targets = await storage.part_targets(row["storage_key"], upload, numbers)
    out = []
    for target in targets:
        data = target.as_json()
        data["url"] = data["url"] or content_path(row["id"])
        out.append(data)
    return out


async def upload_instructions(storage: Storage, row: Mapping[str, Any]) -> dict[str, Any]:
    """`upload` of the create answer: one POST (S3) or PUT (file://) of the whole file, or
    `method: "parts"` with the first part targets."""
    upload = upload_of(row)
    if upload is None:
        target = await storage.upload_target(row["storage_key"], row["mime_type"], row["size"])
        data = target.as_json()
        data["url"] = data["url"] or content_path(row["id"])
        return data
    numbers = list(range(1, min(upload.part_count, MAX_PARTS_PER_ANSWER) + 1))
    parts = await part_targets(storage, row, numbers)
    return {"method": "parts", "url": None, "fields": {}, "headers": {},
            "expires_at": parts[0]["expires_at"], "part_size": upload.part_size,
            "part_count": upload.part_count, "parts": parts}


# --- completion ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    """What the stored bytes are: `kind` and `sha256` when they pass, else a refusal
    (`code`, `reason`, `detail`) after which the object is removed, or `incomplete`
    (bytes still missing: the upload stays open)."""

    kind: FileType | None = None
    sha256: str | None = None
    code: str | None = None
    reason: str | None = None
    detail: str = ""
    received: int | None = None

    @property
    def incomplete(self) -> bool:
        return self.received is not None


async def check_upload(storage: Storage, row: Mapping[str, Any]) -> Verdict:
    """Assemble a multipart upload, then check the stored object against the record."""
    key, size = row["storage_key"], row["size"]
    upload = upload_of(row)
    if upload is not None:
        try:
            await storage.complete_multipart(key, upload)
        except IncompleteUpload as exc:
            return Verdict(received=exc.received, detail=str(exc))
    stored = await storage.stat(key)
    if stored is None:
        return Verdict(received=0, detail="nothing has been uploaded yet")
    if stored != size:
        return Verdict(code="size_mismatch", reason="size_mismatch",
                       detail=f"{stored} bytes stored, {size} declared")
    sniffed = await _sniff(storage, key, row["file_name"], row["mime_type"])
    if isinstance(sniffed, Refusal):
        return Verdict(code="file_refused", reason=str(sniffed.reason), detail=sniffed.detail)
    digest = await storage.sha256(key)
    if row["sha256"] and row["sha256"] != digest:
        return Verdict(code="checksum_mismatch", reason="checksum_mismatch",
                       detail="the stored bytes do not have the declared sha256")
    return Verdict(kind=sniffed.type, sha256=digest)


async def _sniff(storage: Storage, key: str, file_name: str, declared: str) -> Sniffed | Refusal:
    if isinstance(storage, LocalStorage):
        return await asyncio.to_thread(sniff_file, storage.path(key), file_name, declared)
    head = await storage.read_head(key, HEAD_SIZE)
    found = sniff(head, file_name, declared)
    if isinstance(found, Refusal) and found.reason is Reason.ZIP_UNLISTED:
        return await _sniff_whole(storage, key, file_name, declared)  # its central directory
    return found


async def _sniff_whole(storage: Storage, key: str, file_name: str,
                       declared: str) -> Sniffed | Refusal:
    fd, name = tempfile.mkstemp(prefix="fpm-sniff-")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as file:
            async for chunk in await storage.open_read(key):
                await asyncio.to_thread(file.write, chunk)
        return await asyncio.to_thread(sniff_file, path, file_name, declared)
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)


# --- downloads ----------------------------------------------------------------------------

async def stream_file(request: web.Request, storage: Storage, key: str, *, file_name: str,
                      content_type: str, size: int | None, inline: bool) -> web.StreamResponse:
    """The object's bytes as the answer (file://), in chunks."""
    try:
        chunks = await storage.open_read(key)
    except NotStored:
        raise web.HTTPNotFound() from None  # answered as a problem by the error middleware
    response = web.StreamResponse(headers={
        "Content-Type": content_type,
        "Content-Disposition": content_disposition(file_name, inline=inline),
        **DOWNLOAD_HEADERS})
    if size is not None:
        response.content_length = size
    await response.prepare(request)
    async for chunk in chunks:
        await response.write(chunk)
    await response.write_eof()
    return response


def sha256_hex(value: str | None) -> str | None:
    return value.lower() if value else None
