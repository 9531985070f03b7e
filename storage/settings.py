"""STORAGE_URL and the S3 variables, read once into a frozen value; `open_storage` opens the
backend they name."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from storage.backend import Storage

BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
PREFIX_PART = re.compile(r"[A-Za-z0-9._-]+")
REGION = re.compile(r"[a-z0-9-]{1,40}")
STYLES = ("auto", "path", "virtual")


class StorageConfigError(ValueError):
    """A storage setting is malformed; the message says which and why."""


@dataclass(frozen=True)
class StorageSettings:
    """Where files live. `kind` "file": under `root` (None: DATA_DIR/files); "s3": in
    `bucket` under `prefix`, at `endpoint_url` (None: AWS itself)."""

    kind: Literal["file", "s3"] = "file"
    root: Path | None = None
    bucket: str | None = None
    prefix: str = ""
    endpoint_url: str | None = None
    region: str = "us-east-1"
    addressing_style: str = "auto"
    # None: botocore's own chain (instance role, profile, web identity).
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)

    def files_root(self, data_dir: Path) -> Path:
        return self.root if self.root is not None else data_dir / "files"


def load_storage_settings(env: Mapping[str, str]) -> StorageSettings:
    """STORAGE_URL: unset, `file://` (DATA_DIR/files), `file:///absolute/folder`, or
    `s3://bucket[/prefix]` with S3_ENDPOINT_URL, S3_REGION, S3_ADDRESSING_STYLE and
    AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN)."""
    url = env.get("STORAGE_URL", "").strip() or "file://"
    parts = urlsplit(url)
    if parts.query or parts.fragment or parts.username or parts.password:
        raise StorageConfigError("STORAGE_URL takes no user, password, query or fragment")
    if parts.scheme == "file":
        return StorageSettings(kind="file", root=_file_root(parts.netloc, parts.path))
    if parts.scheme == "s3":
        return _s3(env, parts.netloc, parts.path)
    raise StorageConfigError(
        f"STORAGE_URL must be file:// or s3://bucket/prefix, got {url.split(':')[0]!r}:")


def _file_root(host: str, path: str) -> Path | None:
    if host:
        raise StorageConfigError(
            f"STORAGE_URL: file:// takes an absolute path (file:///srv/files), got host {host!r}")
    return Path(path) if path.strip("/") else None


def _s3(env: Mapping[str, str], bucket: str, path: str) -> StorageSettings:
    if not BUCKET.fullmatch(bucket) or ".." in bucket:
        raise StorageConfigError(
            f"STORAGE_URL: {bucket!r} is not a bucket name (3-63 of a-z 0-9 . -)")
    prefix = path.strip("/")
    if prefix and not all(PREFIX_PART.fullmatch(p) and p not in (".", "..")
                          for p in prefix.split("/")):
        raise StorageConfigError(
            f"STORAGE_URL: the prefix {prefix!r} may hold only A-Z a-z 0-9 . _ - and /")
    endpoint = env.get("S3_ENDPOINT_URL", "").strip() or None
    if endpoint:
        target = urlsplit(endpoint)
        if target.scheme not in ("http", "https") or not target.hostname or target.query:
            raise StorageConfigError(
                f"S3_ENDPOINT_URL must be an http(s):// URL, got {endpoint!r}")
    region = env.get("S3_REGION", "").strip() or "us-east-1"
    if not REGION.fullmatch(region):
        raise StorageConfigError(f"S3_REGION is not a region name: {region!r}")
    # Self-hosted services (MinIO, SeaweedFS, Garage) answer path-style unless a wildcard
    # domain is set up for them; AWS itself chooses.
    style = env.get("S3_ADDRESSING_STYLE", "").strip().lower() or (
        "path" if endpoint else "auto")
    if style not in STYLES:
        raise StorageConfigError(f"S3_ADDRESSING_STYLE must be one of {', '.join(STYLES)}")
    key_id = env.get("AWS_ACCESS_KEY_ID", "").strip() or None
    secret = env.get("AWS_SECRET_ACCESS_KEY", "").strip() or None
    if (key_id is None) != (secret is None):
        raise StorageConfigError(
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together: set both or neither")
    return StorageSettings(
        kind="s3", bucket=bucket, prefix=prefix, endpoint_url=endpoint, region=region,
        addressing_style=style, access_key_id=key_id, secret_access_key=secret,
        session_token=(env.get("AWS_SESSION_TOKEN", "").strip() or None) if key_id else None)


@asynccontextmanager
async def open_storage(settings: StorageSettings, data_dir: Path) -> AsyncIterator[Storage]:
    """The backend `settings` name, open for the life of the context (for the app's
    cleanup_ctx): file:// needs nothing else; s3:// holds one client and its connections."""
    if settings.kind == "file":
        from storage.local import LocalStorage

        yield LocalStorage(settings.files_root(data_dir))
        return
    from storage.s3 import connect

    async with connect(settings) as storage:
        yield storage
