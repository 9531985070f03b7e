"""What a browser does with the upload targets: the form POST and the part PUTs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping

import aiohttp

from storage.backend import UploadTarget


async def chunks(body: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start:start + size]


async def post_form(target: UploadTarget, body: bytes, *,
                    change: Mapping[str, str] | None = None,
                    drop: Iterable[str] = ()) -> tuple[int, str]:
    """POST `body` as the `file` field after the target's fields (some changed or dropped,
    as a forger would); returns the status and the answer's text."""
    fields = {**target.fields, **(change or {})}
    for name in drop:
        fields.pop(name, None)
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    form.add_field("file", body, filename="photo.png",
                   content_type=fields.get("Content-Type", "application/octet-stream"))
    assert target.url is not None
    async with aiohttp.ClientSession() as session, session.post(target.url, data=form) as answer:
        return answer.status, await answer.text()


async def put(url: str, body: bytes | AsyncIterator[bytes],
              headers: Mapping[str, str] | None = None) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, \
            session.put(url, data=body, headers=dict(headers or {})) as answer:
        return answer.status, await answer.text()


async def get(url: str) -> tuple[int, bytes, Mapping[str, str]]:
    async with aiohttp.ClientSession() as session, session.get(url) as answer:
        return answer.status, await answer.read(), dict(answer.headers)
