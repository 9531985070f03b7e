"""A Content-Disposition value for a user's file name that no browser misreads (RFC 6266)."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9._ ()+-]")
MAX_NAME = 200


def content_disposition(file_name: str, *, inline: bool = False) -> str:
    """`attachment` (or `inline`) with an ASCII fallback `filename` of safe characters only
    and the exact name, percent-encoded, in `filename*`; control characters, quotes, slashes
    and semicolons never reach the header."""
    name = "".join(ch for ch in file_name if unicodedata.category(ch)[0] != "C")
    name = name.replace("/", "_").replace("\\", "_").strip().strip(".")[:MAX_NAME] or "file"
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    fallback = _UNSAFE_ASCII.sub("_", ascii_name).strip()
    if fallback.startswith("."):  # the stem had no ASCII letters ("中文.png")
        fallback = "file" + fallback
    if not any(ch.isalnum() for ch in fallback):
        fallback = "file"
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
