"""The bulk upload's fallback: when a file's name holds no drawing number, the text layer
of its uploaded PDF is read (files/text_layer.py, a limited child process) and guessed from
(rules.drawings_register.guess_from_text).

Only a complete PDF attachment of the same project is read, and only up to MAX_TEXT_SOURCE
bytes; the object is copied to a temporary file first (the child reads a path), outside any
database transaction. No storage, no text: the guess stays the file name's.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from files.text_layer import first_page_text
from server.keys import STORAGE
from storage.errors import StorageError
from storage.local import LocalStorage

MAX_TEXT_SOURCE = 100 << 20  # a drawing sheet larger than this is not read for a guess
PDF = "application/pdf"
MAX_READS = 20  # files of one bulk request read for text (each a child of a few seconds)


def readable(row: Mapping[str, Any]) -> bool:
    """A complete PDF small enough to read (attachments without a status are complete)."""
    return (row.get("mime_type") == PDF and row.get("status", "ready") == "ready"
            and row.get("deleted_at") is None and 0 < int(row.get("size") or 0) <= MAX_TEXT_SOURCE)


async def text_of(app: web.Application, row: Mapping[str, Any]) -> str | None:
    """The first page's text of the attachment's PDF, or None."""
    storage = app.get(STORAGE)
    if storage is None or not readable(row):
        return None
    key = str(row["storage_key"])
    try:
        if isinstance(storage, LocalStorage):
            return await first_page_text(storage.path(key))
        fd, name = tempfile.mkstemp(prefix="fpm-text-", suffix=".pdf")
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as file:
                async for chunk in await storage.open_read(key):
                    await asyncio.to_thread(file.write, chunk)
            return await first_page_text(path)
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)
    except (StorageError, OSError):
        return None
