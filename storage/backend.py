"""The storage interface both backends implement, and the plain values it answers with."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

MiB = 1024 * 1024
# Files over this size are sent in parts (S3 multipart / chunked PUTs with an offset).
MULTIPART_THRESHOLD = 32 * MiB
PART_SIZE = 8 * MiB  # S3 wants at least 5 MiB in every part but the last
MAX_PARTS = 10_000  # S3's limit; bigger files get bigger parts
MAX_EXPIRY = 15 * 60  # seconds an upload URL or policy is valid at most
DOWNLOAD_EXPIRY = 60  # seconds a download URL is valid by default
READ_CHUNK = 256 * 1024


def check_expiry(seconds: int, limit: int = MAX_EXPIRY) -> int:
    if not isinstance(seconds, int) or not 1 <= seconds <= limit:
        raise ValueError(f"expiry must be 1..{limit} seconds, got {seconds!r}")
    return seconds


def expires_at(seconds: int) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)


def check_upload(content_type: str, size: int) -> None:
    if not isinstance(size, int) or size < 0:
        raise ValueError(f"size must be a non-negative integer, got {size!r}")
    if not content_type or not content_type.isascii() or not content_type.isprintable():
        raise ValueError(f"not a content type: {content_type!r:.80}")


@dataclass(frozen=True)
class UploadTarget:
    """Where and how the client sends the file's bytes in one request."""

    method: Literal["POST", "PUT"]
    # None: PUT the body to the API's own content route (file://).
    url: str | None
    # POST: form fields to send, in order, before the `file` field (S3 presigned POST).
    fields: Mapping[str, str] = field(default_factory=dict)
    # PUT: headers the request must carry.
    headers: Mapping[str, str] = field(default_factory=dict)
    expires_at: datetime = field(default_factory=lambda: expires_at(MAX_EXPIRY))

    def as_json(self) -> dict[str, Any]:
        return {"method": self.method, "url": self.url, "fields": dict(self.fields),
                "headers": dict(self.headers), "expires_at": self.expires_at.isoformat()}


@dataclass(frozen=True)
class MultipartUpload:
    """An unfinished upload in parts: what the route keeps to hand out parts and complete."""

    upload_id: str
    size: int

    @property
    def part_size(self) -> int:
        per_part = -(-self.size // MAX_PARTS)  # ceiling division
        return max(PART_SIZE, -(-per_part // MiB) * MiB)

    @property
    def part_count(self) -> int:
        return max(1, -(-self.size // self.part_size))

    def part_range(self, number: int) -> tuple[int, int]:
        """(offset, length) of part `number` (1-based)."""
        if not 1 <= number <= self.part_count:
            raise ValueError(f"part number must be 1..{self.part_count}, got {number}")
        offset = (number - 1) * self.part_size
        return offset, min(self.part_size, self.size - offset)


@dataclass(frozen=True)
class PartTarget:
    """Where and how the client sends one part: exactly `size` bytes, file bytes
    [offset, offset + size)."""

    number: int
    url: str | None  # None: PUT to the API's own content route, with `headers`
    headers: Mapping[str, str]
    offset: int
    size: int
    expires_at: datetime
    method: Literal["PUT"] = "PUT"

    def as_json(self) -> dict[str, Any]:
        return {"number": self.number, "method": self.method, "url": self.url,
                "headers": dict(self.headers), "offset": self.offset, "size": self.size,
                "expires_at": self.expires_at.isoformat()}


@dataclass(frozen=True)
class Part:
    """A part the storage holds already (for resuming after a dropped connection)."""

    number: int
    size: int
    etag: str = ""


@dataclass(frozen=True)
class DownloadTarget:
    """A short-lived URL that answers the file with a safe Content-Disposition."""

    url: str
    expires_at: datetime


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    modified: datetime


class Storage(Protocol):
    """Bytes under object keys (storage.keys). Every method validates the key first."""

    @property
    def kind(self) -> Literal["file", "s3"]: ...

    async def upload_target(self, key: str, content_type: str, size: int,
                            expires: int = MAX_EXPIRY) -> UploadTarget:
        """How a client uploads exactly `size` bytes of `content_type` under `key`."""

    async def start_multipart(self, key: str, content_type: str,
                              size: int) -> MultipartUpload: ...

    async def part_targets(self, key: str, upload: MultipartUpload, numbers: Sequence[int],
                           expires: int = MAX_EXPIRY) -> list[PartTarget]: ...

    async def uploaded_parts(self, key: str, upload: MultipartUpload) -> list[Part]:
        """The parts stored completely so far (UploadNotFound when the upload is gone)."""

    async def complete_multipart(self, key: str, upload: MultipartUpload) -> None:
        """Assemble the object once every part holds exactly its size (IncompleteUpload
        otherwise, and the upload stays open); idempotent once complete."""

    async def abort_multipart(self, key: str, upload: MultipartUpload) -> None: ...

    async def stat(self, key: str) -> int | None:
        """The stored object's size, None when there is none."""

    async def read_head(self, key: str, n: int) -> bytes:
        """The first `n` bytes (fewer for a shorter object), for sniffing the type."""

    async def open_read(self, key: str, chunk_size: int = READ_CHUNK) -> AsyncIterator[bytes]:
        """The object's bytes in chunks (NotStored at once when it is missing)."""

    async def download_target(self, key: str, file_name: str, content_type: str, *,
                              inline: bool = False,
                              expires: int = DOWNLOAD_EXPIRY) -> DownloadTarget | None:
        """A presigned GET, or None where the API streams the file itself (file://)."""

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes], offset: int = 0,
                         size: int | None = None,
                         content_type: str = "application/octet-stream") -> int:
        """Store a body read chunk by chunk in bounded memory; returns the bytes stored so
        far. `size` given: the object is complete (and visible) when that many arrived."""

    async def delete(self, key: str) -> None:
        """Remove the object and any unfinished upload of it; no error when absent."""

    async def sha256(self, key: str) -> str: ...

    def list_objects(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        """Complete objects under a key prefix (storage.keys.check_prefix), for sweeps."""

    async def abort_stale_uploads(self, older_than: timedelta) -> int:
        """Abandon unfinished uploads started longer ago than that; returns how many."""
