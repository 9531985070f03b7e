"""S3-compatible storage through aiobotocore: a presigned POST bound to the exact key, size
and content type; presigned part URLs bound to each part's exact length; short-lived
presigned GETs that name the file safely. Nothing of a user's is ever in a key."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import ClientError

from storage.backend import (
    DOWNLOAD_EXPIRY,
    MAX_EXPIRY,
    PART_SIZE,
    READ_CHUNK,
    DownloadTarget,
    MultipartUpload,
    ObjectInfo,
    Part,
    PartTarget,
    UploadTarget,
    check_expiry,
    check_upload,
    expires_at,
)
from storage.disposition import content_disposition
from storage.errors import IncompleteUpload, NotStored, SizeExceeded, UploadNotFound
from storage.keys import KEY, check_key, check_prefix

if TYPE_CHECKING:
    from storage.settings import StorageSettings

MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class S3Storage:
    """Objects in `bucket` under `prefix`; `client` is an open aiobotocore S3 client."""

    kind: Literal["s3"] = "s3"

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""

    def name(self, key: str) -> str:
        """The S3 object name of `key` (after validating it)."""
        return self.prefix + check_key(key)

    # -- uploads ---------------------------------------------------------------------------

    async def upload_target(self, key: str, content_type: str, size: int,
                            expires: int = MAX_EXPIRY) -> UploadTarget:
        check_upload(content_type, size)
        until = expires_at(check_expiry(expires))  # never later than the policy's own
        post = await self.client.generate_presigned_post(
            Bucket=self.bucket, Key=self.name(key), Fields={"Content-Type": content_type},
            Conditions=[["content-length-range", size, size], {"Content-Type": content_type}],
            ExpiresIn=expires)
        return UploadTarget(method="POST", url=post["url"], fields=post["fields"],
                            expires_at=until)

    async def start_multipart(self, key: str, content_type: str,
                              size: int) -> MultipartUpload:
        check_upload(content_type, size)
        answer = await self.client.create_multipart_upload(
            Bucket=self.bucket, Key=self.name(key), ContentType=content_type)
        return MultipartUpload(answer["UploadId"], size)

    async def part_targets(self, key: str, upload: MultipartUpload, numbers: Sequence[int],
                           expires: int = MAX_EXPIRY) -> list[PartTarget]:
        """Each URL signs the part's Content-Length: a longer or shorter body is refused."""
        until = expires_at(check_expiry(expires))
        targets = []
        for number in numbers:
            offset, length = upload.part_range(number)
            url = await self.client.generate_presigned_url(
                "upload_part", ExpiresIn=expires,
                Params={"Bucket": self.bucket, "Key": self.name(key), "PartNumber": number,
                        "UploadId": upload.upload_id, "ContentLength": length})
            targets.append(PartTarget(number, url, {}, offset, length, until))
        return targets

    async def uploaded_parts(self, key: str, upload: MultipartUpload) -> list[Part]:
        parts: list[Part] = []
        marker = 0
        while True:
            try:
                page = await self.client.list_parts(
                    Bucket=self.bucket, Key=self.name(key), UploadId=upload.upload_id,
                    PartNumberMarker=marker)
            except ClientError as exc:
                if _code(exc) in ("NoSuchUpload", "404"):
                    raise UploadNotFound(f"no unfinished upload {upload.upload_id}") from None
                raise
            for part in page.get("Parts", []):
                number, size = int(part["PartNumber"]), int(part["Size"])
                if 1 <= number <= upload.part_count and upload.part_range(number)[1] == size:
                    parts.append(Part(number, size, part["ETag"]))
            if not page.get("IsTruncated"):
                return parts
            marker = int(page["NextPartNumberMarker"])

    async def complete_multipart(self, key: str, upload: MultipartUpload) -> None:
        try:
            parts = await self.uploaded_parts(key, upload)
        except UploadNotFound:
            if await self.stat(key) == upload.size:
                return  # completed already (a retried request)
            raise
        have = {part.number for part in parts}
        missing = [n for n in range(1, upload.part_count + 1) if n not in have]
        if missing:
            received = sum(part.size for part in parts)
            raise IncompleteUpload(f"parts missing: {missing[:20]}", received)
        await self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=self.name(key), UploadId=upload.upload_id,
            MultipartUpload={"Parts": [{"PartNumber": p.number, "ETag": p.etag}
                                       for p in sorted(parts, key=lambda p: p.number)]})
        stored = await self.stat(key)
        if stored != upload.size:
            await self.delete(key)
            raise IncompleteUpload(f"stored {stored} bytes, not {upload.size}", stored or 0)

    async def abort_multipart(self, key: str, upload: MultipartUpload) -> None:
        try:
            await self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=self.name(key), UploadId=upload.upload_id)
        except ClientError as exc:
            if _code(exc) not in ("NoSuchUpload", "404"):
                raise

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes], offset: int = 0,
                         size: int | None = None,
                         content_type: str = "application/octet-stream") -> int:
        """Server-side writes (thumbnails, imports): one PUT, or parts of PART_SIZE for a
        longer body, so at most one part is held in memory. S3 has no offset writes."""
        if offset:
            raise ValueError("S3 objects are written whole: send parts (start_multipart)")
        name = self.name(key)
        buffer = bytearray()
        position = 0
        upload_id: str | None = None
        etags: list[str] = []
        try:
            async for chunk in chunks:
                position += len(chunk)
                if size is not None and position > size:
                    raise SizeExceeded(size)
                buffer += chunk
                while len(buffer) >= PART_SIZE:
                    if upload_id is None:
                        upload_id = (await self.client.create_multipart_upload(
                            Bucket=self.bucket, Key=name, ContentType=content_type))["UploadId"]
                    etags.append(await self._put_part(name, upload_id, len(etags) + 1,
                                                      bytes(buffer[:PART_SIZE])))
                    del buffer[:PART_SIZE]
            if size is not None and position != size:
                raise IncompleteUpload(f"{position} of {size} bytes received", 0)
            if upload_id is None:
                await self.client.put_object(Bucket=self.bucket, Key=name, Body=bytes(buffer),
                                             ContentType=content_type)
                return position
            if buffer:
                etags.append(await self._put_part(name, upload_id, len(etags) + 1,
                                                  bytes(buffer)))
            await self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=name, UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag}
                                           for n, etag in enumerate(etags, 1)]})
            return position
        except BaseException:
            if upload_id is not None:
                await self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=name, UploadId=upload_id)
            raise

    async def _put_part(self, name: str, upload_id: str, number: int, body: bytes) -> str:
        answer = await self.client.upload_part(Bucket=self.bucket, Key=name,
                                               UploadId=upload_id, PartNumber=number, Body=body)
        return str(answer["ETag"])

    # -- reads -----------------------------------------------------------------------------

    async def stat(self, key: str) -> int | None:
        try:
            head = await self.client.head_object(Bucket=self.bucket, Key=self.name(key))
        except ClientError as exc:
            if _code(exc) in MISSING:
                return None
            raise
        return int(head["ContentLength"])

    async def _get(self, key: str, **extra: Any) -> Any:
        try:
            return await self.client.get_object(Bucket=self.bucket, Key=self.name(key),
                                                **extra)
        except ClientError as exc:
            if _code(exc) in MISSING:
                raise NotStored(key) from None
            raise

    async def read_head(self, key: str, n: int) -> bytes:
        if n <= 0:
            return b""
        try:
            answer = await self._get(key, Range=f"bytes=0-{n - 1}")
        except ClientError as exc:
            if _code(exc) == "InvalidRange":  # an empty object
                return b""
            raise
        async with answer["Body"] as body:
            return bytes(await body.read())

    async def open_read(self, key: str, chunk_size: int = READ_CHUNK) -> AsyncIterator[bytes]:
        return _body_chunks((await self._get(key))["Body"], chunk_size)

    async def download_target(self, key: str, file_name: str, content_type: str, *,
                              inline: bool = False,
                              expires: int = DOWNLOAD_EXPIRY) -> DownloadTarget | None:
        check_upload(content_type, 0)
        until = expires_at(check_expiry(expires))
        url = await self.client.generate_presigned_url(
            "get_object", ExpiresIn=expires,
            Params={"Bucket": self.bucket, "Key": self.name(key),
                    "ResponseContentDisposition": content_disposition(file_name, inline=inline),
                    "ResponseContentType": content_type,
                    # Headers an uploader may have smuggled in as unsigned form fields
                    # (services that check only x-amz-* fields store them) never reach
                    # the browser: the bytes as stored, cached by nobody.
                    "ResponseContentEncoding": "identity",
                    "ResponseCacheControl": "private, no-store"})
        return DownloadTarget(url, until)

    async def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        async for chunk in await self.open_read(key, 1024 * 1024):
            digest.update(chunk)
        return digest.hexdigest()

    # -- removal and sweeps ----------------------------------------------------------------

    async def delete(self, key: str) -> None:
        name = self.name(key)
        await self.client.delete_object(Bucket=self.bucket, Key=name)
        async for upload in self._uploads(name):
            if upload["Key"] == name:
                await self.abort_multipart(key, MultipartUpload(upload["UploadId"], 0))

    async def list_objects(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket,
                                             Prefix=self.prefix + check_prefix(prefix)):
            for item in page.get("Contents", []):
                key = item["Key"][len(self.prefix):]
                if KEY.fullmatch(key):
                    yield ObjectInfo(key, int(item["Size"]), item["LastModified"])

    async def abort_stale_uploads(self, older_than: timedelta) -> int:
        cutoff = datetime.now(UTC) - older_than
        aborted = 0
        async for upload in self._uploads(self.prefix):
            key = upload["Key"][len(self.prefix):]
            if upload["Initiated"] < cutoff and KEY.fullmatch(key):
                await self.abort_multipart(key, MultipartUpload(upload["UploadId"], 0))
                aborted += 1
        return aborted

    async def _uploads(self, prefix: str) -> AsyncIterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_multipart_uploads")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for upload in page.get("Uploads", []):
                yield upload


async def _body_chunks(body: Any, chunk_size: int) -> AsyncIterator[bytes]:
    try:
        while chunk := await body.read(chunk_size):
            yield bytes(chunk)
    finally:
        body.close()


def client_config(addressing_style: str) -> Config:
    # Checksums only where S3 requires them: several S3-compatible services refuse the
    # CRC headers botocore adds by default since 1.36.
    return Config(signature_version="s3v4", s3={"addressing_style": addressing_style},
                  retries={"max_attempts": 3, "mode": "standard"},
                  connect_timeout=5, read_timeout=60,
                  request_checksum_calculation="when_required",
                  response_checksum_validation="when_required")


@asynccontextmanager
async def connect(settings: StorageSettings) -> AsyncIterator[S3Storage]:
    """An S3Storage with its own client (closed on exit). Credentials: the settings' keys,
    else botocore's usual chain (instance roles, profiles)."""
    assert settings.bucket is not None
    session = get_session()
    async with session.create_client(
        "s3", endpoint_url=settings.endpoint_url, region_name=settings.region,
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
        aws_session_token=settings.session_token,
        config=client_config(settings.addressing_style),
    ) as client:
        yield S3Storage(client, settings.bucket, settings.prefix)
