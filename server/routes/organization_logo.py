"""/api/v1/organization/logo: the firm's logo on its reports (the weekly report's cover and
page headers). PNG or JPEG, at most 256 KiB and 4096 px a side: the real type is read from
the bytes and the image is decoded by Pillow before it is stored (db/queries/reports.py).
Every user of the organisation reads it; its admins set and remove it, each change a
user-action audit row (`organization_logo`)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io

import pydantic
from aiohttp import web
from PIL import Image, UnidentifiedImageError

from db.pool import transaction
from db.queries import reports as queries
from db.queries.events import record_event
from server.auth.identity import actor, identity
from server.auth.permissions import Perm, require
from server.errors import Invalid, NotFound, PayloadTooLarge
from server.keys import POOL
from server.openapi import doc
from server.rest import json_response
from server.writes import writes

routes = web.RouteTableDef()
URL = "/api/v1/organization/logo"
LOGO_MAX_BYTES = 256 * 1024  # also a constraint of the table (migration 0029)
LOGO_MAX_SIDE = 4096
# The first bytes of each allowed type, and Pillow's name for it.
SIGNATURES = {"image/png": (b"\x89PNG\r\n\x1a\n", "PNG"), "image/jpeg": (b"\xff\xd8\xff", "JPEG")}


class LogoOut(pydantic.BaseModel):
    media_type: str
    size: int
    width: int
    height: int
    sha256: str
    updated_at: dt.datetime


def _refused(message: str) -> Invalid:
    return Invalid(f"The logo is refused: {message}", code="file_refused",
                   errors=[{"field": "body", "message": message}])


def _dimensions(data: bytes, pillow_format: str) -> tuple[int, int]:
    """Width and height of a PNG or JPEG that Pillow decodes whole; the size is checked
    from the header before any pixel is decoded."""
    try:
        with Image.open(io.BytesIO(data), formats=[pillow_format]) as image:
            width, height = image.size
            if not (0 < width <= LOGO_MAX_SIDE and 0 < height <= LOGO_MAX_SIDE):
                raise _refused(f"at most {LOGO_MAX_SIDE} × {LOGO_MAX_SIDE} pixels")
            image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError,
            SyntaxError) as exc:
        raise _refused("not a readable PNG or JPEG image") from exc
    return width, height


async def _body(request: web.Request) -> bytes:
    if (request.content_length or 0) > LOGO_MAX_BYTES:
        raise PayloadTooLarge(f"A logo is at most {LOGO_MAX_BYTES // 1024} KiB",
                              code="file_too_large")
    data = await request.content.read(LOGO_MAX_BYTES + 1)
    if len(data) > LOGO_MAX_BYTES:
        raise PayloadTooLarge(f"A logo is at most {LOGO_MAX_BYTES // 1024} KiB",
                              code="file_too_large")
    return data


@routes.put(URL)
@doc(summary="Set the organisation's logo (body: the PNG or JPEG image, at most 256 KiB, "
             "with its Content-Type); org admins", response=LogoOut, errors=[403, 413, 422])
async def put_logo(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.MANAGE_ORGANIZATION)
    declared = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if declared not in SIGNATURES:
        raise Invalid("A logo is a PNG or JPEG image", code="file_refused", errors=[
            {"field": "Content-Type", "message": "image/png or image/jpeg"}])
    data = await _body(request)
    signature, pillow_format = SIGNATURES[declared]
    if not data.startswith(signature):
        raise _refused(f"the bytes are not {declared}")
    width, height = await asyncio.to_thread(_dimensions, data, pillow_format)
    digest = hashlib.sha256(data).hexdigest()
    async with writes(request) as conn:
        row = await queries.set_logo(conn, who.org_id, media_type=declared, data=data,
                                     width=width, height=height, sha256=digest)
        await record_event(conn, "organization_logo", {
            "change": "set", "media_type": declared, "bytes": len(data), "sha256": digest},
            org_id=who.org_id, user_id=who.user_id)
    return json_response(dict(row))


@routes.get(URL)
@doc(summary="The organisation's logo (the image itself)", media=["image/png", "image/jpeg"],
     errors=[404])
async def get_logo(request: web.Request) -> web.Response:
    who = identity(request)
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        row = await queries.logo(conn, who.org_id)
    if row is None:
        raise NotFound("The organisation has no logo")
    return web.Response(body=bytes(row["data"]), content_type=row["media_type"], headers={
        "Cache-Control": "private, no-cache", "ETag": f'"{row["sha256"]}"',
        "Content-Disposition": "inline"})


@routes.delete(URL)
@doc(summary="Remove the organisation's logo; org admins", status=204, errors=[403, 404])
async def delete_logo(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.MANAGE_ORGANIZATION)
    async with writes(request) as conn:
        if not await queries.delete_logo(conn, who.org_id):
            raise NotFound("The organisation has no logo")
        await record_event(conn, "organization_logo", {"change": "removed"},
                           org_id=who.org_id, user_id=who.user_id)
    return web.Response(status=204)

