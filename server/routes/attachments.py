"""/api/v1/attachments: files of a project's records. A client declares the file (name,
type, size), uploads its bytes where it is told (straight to the bucket with S3, to
…/content with file://; in parts over 32 MiB), completes it (size, real type and checksum
checked), then anyone who can read its entity lists, downloads and previews it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import pydantic
from aiohttp import web

from db.pool import system_transaction, transaction
from db.queries import attachments as queries
from db.queries.events import record_event
from db.queries.projects import is_visible
from db.queries.site_diaries import status as diary_status
from db.schema import ATTACHABLE_TYPES, ATTACHMENT_STATUSES
from files.types import PREVIEWABLE, UNSPECIFIC_MIMES, normalise_mime
from rules import site_diary as diary_rules
from rules.permissions import Perm
from server import review_engine
from server.attachment_files import (
    DOWNLOAD_HEADERS,
    MAX_PARTS_PER_ANSWER,
    bound_content_type,
    check_upload,
    file_type,
    is_multipart,
    part_targets,
    sha256_hex,
    stream_file,
    upload_instructions,
    upload_of,
)
from server.auth.identity import Identity, actor, identity
from server.auth.permissions import require
from server.errors import (
    Conflict,
    Forbidden,
    InsufficientStorage,
    Invalid,
    NotFound,
    PayloadTooLarge,
)
from server.exports.route import exportable
from server.fields import RecordOut
from server.keys import POOL, SETTINGS, STORAGE
from server.openapi import doc
from server.records import check_version, path_id, read_one
from server.rest import PageParams, SortKey, idempotent, if_match, json_response, keyset, record
from server.text import ONE_LINE
from server.thumbnail_jobs import NONE, THUMBNAILS
from server.validation import ApiModel, read_body, read_query
from server.writes import writes
from storage.errors import OffsetMismatch, SizeExceeded, UploadBusy, UploadNotFound
from storage.keys import object_key, thumbnail_key

routes = web.RouteTableDef()

EntityType = Literal[ATTACHABLE_TYPES]  # type: ignore[valid-type]
Status = Literal[ATTACHMENT_STATUSES]  # type: ignore[valid-type]
# Stored as given (shown back in lists and in the download's Content-Disposition), never
# part of a storage key; control characters and line breaks are refused.
FileName = Annotated[str, pydantic.Field(min_length=1, max_length=255), ONE_LINE]
ContentType = Annotated[str, pydantic.Field(max_length=255), ONE_LINE]
Sha256 = Annotated[str, pydantic.Field(pattern=r"^[0-9a-fA-F]{64}$")]
SORTABLE = {"created_at": SortKey("created_at", "timestamptz")}
CHUNK = 256 * 1024  # bytes read from the request at a time
CONTENT_RANGE = "bytes {start}-{end}/{size}"


class AttachmentCreate(ApiModel):
    project_id: uuid.UUID
    entity_type: EntityType
    entity_id: uuid.UUID
    file_name: FileName
    content_type: ContentType = ""
    size: int = pydantic.Field(ge=1, le=2**53)
    sha256: Sha256 | None = None


class AttachmentQuery(PageParams):
    entity_type: EntityType
    entity_id: uuid.UUID
    status: Status | None = None
    revision: Annotated[str, pydantic.Field(max_length=20), ONE_LINE] | None = None


class PartsRequest(ApiModel):
    numbers: list[Annotated[int, pydantic.Field(ge=1, le=10_000)]] = pydantic.Field(
        min_length=1, max_length=MAX_PARTS_PER_ANSWER)


class AttachmentOut(RecordOut):
    org_id: uuid.UUID
    project_id: uuid.UUID
    entity_type: EntityType
    entity_id: uuid.UUID
    file_name: str
    mime_type: str | None
    size: int
    status: Status
    sha256: str | None
    revision: str | None = pydantic.Field(description="a shop drawing's revision label")
    thumbnail: Literal["ready", "failed", "none"] | None
    uploaded_by: uuid.UUID | None
    completed_at: dt.datetime | None


class PartOut(pydantic.BaseModel):
    number: int
    method: Literal["PUT"]
    url: str
    headers: dict[str, str]
    offset: int
    size: int
    expires_at: dt.datetime


class UploadOut(pydantic.BaseModel):
    method: Literal["POST", "PUT", "parts"]
    url: str | None = pydantic.Field(description="POST/PUT: where the bytes go")
    fields: dict[str, str] = pydantic.Field(description="POST: form fields before `file`")
    headers: dict[str, str] = pydantic.Field(description="PUT: headers to send")
    expires_at: dt.datetime
    part_size: int | None = None
    part_count: int | None = None
    parts: list[PartOut] | None = pydantic.Field(None, description="parts: the first targets")


class AttachmentCreated(AttachmentOut):
    upload: UploadOut


class PartsOut(pydantic.BaseModel):
    size: int
    part_size: int
    part_count: int
    received: int = pydantic.Field(description="bytes stored so far (file://: where to resume)")
    uploaded: list[dict[str, int]] = pydantic.Field(description="[{number, size}] stored")
    parts: list[PartOut] = pydantic.Field(description="POST: fresh targets of the parts asked")


class ContentOut(pydantic.BaseModel):
    received: int
    size: int
    complete: bool


class LinkOut(pydantic.BaseModel):
    url: str
    expires_at: dt.datetime


def _out(row: Any) -> dict[str, Any]:
    return record(row, drop=(*queries.PRIVATE_COLUMNS, "deleted_at"))


def _storage(request: web.Request) -> Any:
    return request.app[STORAGE]


async def _visible(request: web.Request, attachment_id: uuid.UUID) -> Any:
    return await read_one(request, "attachments", attachment_id, queries.get)


def _own_upload(who: Identity, row: Any) -> None:
    """Only the uploader sends the bytes of a pending upload and completes it."""
    if row["uploaded_by"] != who.user_id:
        raise Forbidden("Only the uploader sends and completes this file", code="not_uploader")
    if row["status"] != "pending":
        raise Conflict("The upload is complete already", code="upload_complete")


# --- create and list ----------------------------------------------------------------------

@routes.post("/api/v1/attachments")
@doc(summary="Declare a file and get where to upload it",
     description="201 with `upload`: S3 `POST` (send `fields`, then `file`), file:// `PUT` to "
                 "`url`, or `parts` over 32 MiB. 413 past MAX_UPLOAD_BYTES, 507 past the "
                 "organisation's quota, both before any byte is stored. A review task's "
                 "files (a response's): only whoever may answer the task, while it is "
                 "pending (403, 409).",
     body=AttachmentCreate, response=AttachmentCreated, status=201, errors=[403, 409, 507])
@idempotent
async def create_attachment(request: web.Request) -> web.Response:
    who = identity(request)
    body = await read_body(request, AttachmentCreate)
    if body.entity_type != "review_task":  # a response's file: its reviewer's (see below)
        require(who.role, Perm.COMMENT)
    settings, storage = request.app[SETTINGS], _storage(request)
    kind = file_type(body.file_name)
    if kind is None:
        raise Invalid("Files of this type are not accepted", code="file_type_not_allowed",
                      errors=[{"field": "file_name", "message": "not an allowed file type"}])
    content_type = bound_content_type(kind, body.content_type)
    if content_type is None:
        raise Invalid("The content type does not fit the file name", code="file_type_not_allowed",
                      errors=[{"field": "content_type", "message": f"not a {kind.name} type"}])
    if body.size > settings.max_upload_bytes:
        raise PayloadTooLarge(f"Files may hold at most {settings.max_upload_bytes} bytes",
                              code="file_too_large", extra={"limit": settings.max_upload_bytes})
    async with writes(request) as conn:
        if not await is_visible(conn, body.project_id):
            raise Invalid("No such project",
                          errors=[{"field": "project_id", "message": "no such project"}])
        entity = await queries.find_entity(conn, body.entity_type, body.entity_id,
                                           body.project_id)
        if entity is None:
            raise Invalid("No such record in the project", errors=[
                {"field": "entity_id", "message": f"no such {body.entity_type} in the project"}])
        if body.entity_type == "site_diary":  # a completed diary is locked, photos too
            diary_rules.check_photo(await diary_status(conn, body.entity_id), who.role)
        if body.entity_type == "review_task":  # whoever may answer it (a client user too)
            await review_engine.check_attach(conn, body.entity_id, who.user_id, who.client_id)
        await queries.lock_org_quota(conn, who.org_id)
        quota = settings.org_storage_quota_bytes
        if quota:
            async with system_transaction(request.app[POOL]) as system:
                used = await queries.org_bytes(system, who.org_id)
            if used + body.size > quota:
                raise InsufficientStorage(
                    "The organisation's storage quota is used up",
                    extra={"quota": quota, "used": used})
        key = object_key(who.org_id, body.project_id)
        upload_id = None
        if is_multipart(body.size):
            upload_id = (await storage.start_multipart(key, content_type, body.size)).upload_id
        row = await queries.create(conn, {
            "org_id": who.org_id, "project_id": body.project_id,
            "entity_type": body.entity_type, "entity_id": body.entity_id,
            "file_name": body.file_name, "mime_type": content_type, "size": body.size,
            "storage_key": key, "uploaded_by": who.user_id, "sha256": sha256_hex(body.sha256),
            "revision": entity["revision"], "upload_id": upload_id})
    answer = _out(row)
    answer["upload"] = await upload_instructions(storage, row)
    return json_response(answer, status=201)


@routes.get("/api/v1/attachments")
@exportable("attachments")
@doc(summary="List the files of one record (entity_type, entity_id; shop drawings: revision)",
     query=AttachmentQuery, response=AttachmentOut, many=True, errors=[404])
async def list_attachments(request: web.Request) -> web.Response:
    params = read_query(request.query, AttachmentQuery)
    page = keyset(params, SORTABLE, "-created_at")
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        if not await queries.entity_visible(conn, params.entity_type, params.entity_id):
            raise NotFound(f"No such {params.entity_type.replace('_', ' ')}")
        rows = await queries.list_for_entity(conn, page, params.model_dump(
            include=set(queries.FILTERS)))
    return json_response(page.page(rows, _out))


@routes.get("/api/v1/attachments/{id}")
@doc(summary="One attachment", response=AttachmentOut)
async def get_attachment(request: web.Request) -> web.Response:
    return json_response(_out(await _visible(request, path_id(request))))


# --- upload -------------------------------------------------------------------------------

def _content_range(request: web.Request, size: int) -> int:
    """The offset a chunk starts at: `Content-Range: bytes a-b/size` (0 without one)."""
    raw = request.headers.get("Content-Range")
    if raw is None:
        return 0
    try:
        unit, _, rest = raw.strip().partition(" ")
        span, _, total = rest.partition("/")
        start, _, end = span.partition("-")
        first, last = int(start), int(end)
        whole = int(total)
    except ValueError:
        first = last = whole = -1
        unit = ""
    if unit != "bytes" or whole != size or not 0 <= first <= last < size:
        raise Invalid("Content-Range must be `bytes first-last/size` within the file",
                      code="invalid_content_range",
                      errors=[{"field": "Content-Range", "message": "malformed or out of range"}])
    declared_length = request.content_length
    if declared_length is not None and declared_length != last - first + 1:
        raise Invalid("Content-Length differs from the Content-Range",
                      code="invalid_content_range",
                      errors=[{"field": "Content-Range", "message": "length mismatch"}])
    return first


@routes.put("/api/v1/attachments/{id}/content")
@doc(summary="Upload the file's bytes (file:// storage), whole or as a chunk with "
             "Content-Range", response=ContentOut, errors=[403, 409, 413, 422])
async def put_content(request: web.Request) -> web.Response:
    who = identity(request)
    row = await _visible(request, path_id(request))
    storage = _storage(request)
    if storage.kind != "file":
        raise Conflict("Upload to the URL the create answer gave", code="upload_elsewhere")
    _own_upload(who, row)
    declared = normalise_mime(request.headers.get("Content-Type", ""))
    if declared not in UNSPECIFIC_MIMES and declared != row["mime_type"]:
        raise Invalid("The body's Content-Type is not the declared one",
                      code="content_type_mismatch",
                      errors=[{"field": "Content-Type", "message": f"must be {row['mime_type']}"}])
    offset = _content_range(request, row["size"])
    try:
        received = await storage.put_stream(row["storage_key"],
                                            request.content.iter_chunked(CHUNK), offset=offset,
                                            size=row["size"], content_type=row["mime_type"])
    except OffsetMismatch as exc:
        raise Conflict(f"Resume at byte {exc.received}", code="offset_mismatch",
                       extra={"received": exc.received}) from None
    except SizeExceeded:
        raise PayloadTooLarge(f"The file was declared with {row['size']} bytes",
                              code="file_too_large") from None
    except UploadBusy:
        raise Conflict("Another request is uploading this file", code="upload_busy") from None
    return json_response({"received": received, "size": row["size"],
                          "complete": received == row["size"]})


async def _parts_answer(request: web.Request, numbers: list[int]) -> web.Response:
    who = identity(request)
    row = await _visible(request, path_id(request))
    _own_upload(who, row)
    storage = _storage(request)
    upload = upload_of(row)
    if upload is None:
        raise Conflict("This file is uploaded in one request", code="not_multipart")
    try:
        stored = await storage.uploaded_parts(row["storage_key"], upload)
    except UploadNotFound:
        raise Conflict("The upload expired; declare the file again",
                       code="upload_expired") from None
    numbers = [n for n in numbers or () if n <= upload.part_count]  # past the end: none
    received = 0  # the bytes of parts 1..n all stored (file://: where to resume)
    sizes = {part.number: part.size for part in stored}
    for number in range(1, upload.part_count + 1):
        if number not in sizes:
            break
        received += sizes[number]
    return json_response({
        "size": row["size"], "part_size": upload.part_size, "part_count": upload.part_count,
        "received": received,
        "uploaded": [{"number": p.number, "size": p.size} for p in stored],
        "parts": await part_targets(storage, row, numbers) if numbers else []})


@routes.get("/api/v1/attachments/{id}/parts")
@doc(summary="The parts stored so far of an upload in parts (to resume)", response=PartsOut,
     errors=[403, 409])
async def list_parts(request: web.Request) -> web.Response:
    return await _parts_answer(request, [])


@routes.post("/api/v1/attachments/{id}/parts")
@doc(summary="Fresh upload targets for some parts", body=PartsRequest, response=PartsOut,
     errors=[403, 409])
async def renew_parts(request: web.Request) -> web.Response:
    body = await read_body(request, PartsRequest)
    return await _parts_answer(request, sorted(set(body.numbers)))


@routes.post("/api/v1/attachments/{id}/complete")
@doc(summary="Complete the upload: size, real type and sha256 checked, then ready",
     description="409 `upload_incomplete` while bytes are missing (with `received`); 422 "
                 "`file_refused` (with `reason`: executable, extension_mismatch, ...), "
                 "`size_mismatch` or `checksum_mismatch`, after which the file is removed.",
     response=AttachmentOut, errors=[403, 409, 422])
async def complete_attachment(request: web.Request) -> web.Response:
    who = identity(request)
    attachment_id = path_id(request)
    row = await _visible(request, attachment_id)
    if row["status"] == "ready":
        return json_response(_out(row))
    _own_upload(who, row)
    storage = _storage(request)
    verdict = await check_upload(storage, row)
    if verdict.incomplete:
        raise Conflict(f"The upload is not complete: {verdict.detail}",
                       code="upload_incomplete", extra={"received": verdict.received})
    if verdict.kind is None:
        await storage.delete(row["storage_key"])
        async with writes(request) as conn:
            await queries.soft_delete(conn, attachment_id, None)
        raise Invalid(f"The file is refused: {verdict.detail}", code=verdict.code,
                      extra={"reason": verdict.reason})
    thumbnails = request.app[THUMBNAILS]
    previewable = thumbnails.queue is not None and verdict.kind.name in PREVIEWABLE
    async with writes(request) as conn:
        done = await queries.update(conn, attachment_id, {
            "status": "ready", "sha256": verdict.sha256, "mime_type": verdict.kind.mime,
            "upload_id": None, "thumbnail": None if previewable else NONE},
            raw={"completed_at": "now()"})
    if done is None:
        raise NotFound("No such attachment")
    if previewable:
        thumbnails.offer(done["storage_key"], verdict.kind.name)
    return json_response(_out(done))


# --- download, thumbnail, delete ----------------------------------------------------------

def _wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


async def _link_or_stream(request: web.Request, key: str, *, file_name: str, content_type: str,
                          size: int | None, inline: bool) -> web.StreamResponse:
    storage = _storage(request)
    target = await storage.download_target(key, file_name, content_type, inline=inline)
    if target is None:
        return await stream_file(request, storage, key, file_name=file_name,
                                 content_type=content_type, size=size, inline=inline)
    if _wants_json(request):
        return json_response({"url": target.url, "expires_at": target.expires_at})
    return web.Response(status=302, headers={"Location": target.url, **DOWNLOAD_HEADERS})


@routes.get("/api/v1/attachments/{id}/download")
@doc(summary="Download the file: 302 to a short-lived URL (S3; JSON {url, expires_at} with "
             "Accept: application/json), or the bytes (file://)",
     response=LinkOut, media=["application/json", "application/octet-stream"], also=[302],
     errors=[409])
async def download_attachment(request: web.Request) -> web.StreamResponse:
    who = identity(request)
    attachment_id = path_id(request)
    async with transaction(request.app[POOL], await actor(request)) as conn:
        row = await queries.get(conn, attachment_id)
        if row is None:
            raise NotFound("No such attachment")
        if row["status"] != "ready":
            raise Conflict("The file has not been uploaded yet", code="not_ready")
        if request.method == "GET":  # a HEAD (aiohttp routes it here too) downloads nothing
            await record_event(conn, "download",
                               {"file_name": row["file_name"], "size": row["size"]},
                               org_id=who.org_id, user_id=who.user_id, table="attachments",
                               record_id=attachment_id, project_id=row["project_id"])
    return await _link_or_stream(request, row["storage_key"], file_name=row["file_name"],
                                 content_type=row["mime_type"] or "application/octet-stream",
                                 size=row["size"], inline=False)


@routes.get("/api/v1/attachments/{id}/thumbnail")
@doc(summary="The file's thumbnail (WebP, 400 px wide): 404 until it is rendered",
     response=LinkOut, media=["application/json", "image/webp"], also=[302])
async def thumbnail(request: web.Request) -> web.StreamResponse:
    row = await _visible(request, path_id(request))
    if row["thumbnail"] != "ready":
        raise NotFound("The file has no thumbnail (yet)", code="no_thumbnail")
    stem = row["file_name"].rsplit(".", 1)[0] or "thumbnail"
    return await _link_or_stream(request, thumbnail_key(row["storage_key"]),
                                 file_name=f"{stem}.webp", content_type="image/webp",
                                 size=None, inline=True)


@routes.delete("/api/v1/attachments/{id}")
@doc(summary="Delete a file (its bytes are removed by the sweep)", status=204,
     errors=[403, 412])
async def delete_attachment(request: web.Request) -> web.Response:
    who = identity(request)
    attachment_id = path_id(request)
    version = if_match(request)
    row = await _visible(request, attachment_id)
    if row["uploaded_by"] != who.user_id:
        require(who.role, Perm.EDIT_PROJECTS)
    async with writes(request) as conn:
        if await queries.soft_delete(conn, attachment_id, version) is None:
            current = await queries.get(conn, attachment_id)
            if current is None:
                raise NotFound("No such attachment")
            check_version(current["version"], version)
    return web.Response(status=204)
