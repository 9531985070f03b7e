"""Background export jobs: ask for one, follow it, download its file (the requester only:
anyone else gets 404). The workers: server/exports/jobs.py; the kinds: server/exports/kinds.py."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pydantic
from aiohttp import web

from db.pool import transaction
from db.queries import export_jobs as queries
from server.attachment_files import DOWNLOAD_HEADERS, stream_file
from server.auth.identity import actor
from server.errors import Conflict, Gone, NotFound
from server.exports.jobs import audit_export
from server.exports.route import exportable
from server.exports.start import job_out, start_job
from server.fields import Keyword
from server.keys import POOL, STORAGE
from server.openapi import doc
from server.records import path_id
from server.rest import PageParams, json_response, keyset, sortable
from server.validation import ApiModel, read_body, read_query

routes = web.RouteTableDef()
SORTABLE = sortable(created_at="timestamptz")


class ExportCreate(ApiModel):
    kind: Keyword  # a list's name (`tasks`, `scope_items`, ...) or another registered kind
    format: Keyword  # csv | xlsx for a list
    filters: dict[str, str | int | float | bool] = pydantic.Field(default_factory=dict)


class ExportJobOut(pydantic.BaseModel):
    id: uuid.UUID
    kind: str
    format: str
    filters: dict[str, Any]
    status: str  # queued | running | done | failed (then deleted EXPORT_JOB_TTL after)
    done: int  # rows (a report: steps) written so far, at most `total`
    total: int | None  # rows (steps) in all: counted when the job starts, null while queued
    rows: int | None
    bytes: int | None
    file_name: str | None
    error: str | None
    attempts: int
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    expires_at: dt.datetime | None
    download: str | None  # the download's path while the file is kept


class ExportQuery(PageParams):
    status: Keyword | None = None
    kind: Keyword | None = None


class LinkOut(pydantic.BaseModel):
    url: str
    expires_at: dt.datetime


@routes.post("/api/v1/exports")
@doc(summary="Run an export in the background: 202 with the job (its progress is pushed to "
             "the requester's sockets as `export.progress`)",
     body=ExportCreate, response=ExportJobOut, status=202, errors=[404, 422, 429],
     tags=["exports"])
async def create_export(request: web.Request) -> web.Response:
    body = await read_body(request, ExportCreate)
    return await start_job(request, body.kind, body.format, dict(body.filters))


@routes.get("/api/v1/exports")
@exportable("export_jobs")
@doc(summary="List my export jobs (newest first)", query=ExportQuery, response=ExportJobOut,
     many=True, tags=["exports"])
async def list_exports(request: web.Request) -> web.Response:
    query = read_query(request.query, ExportQuery)
    page = keyset(query, SORTABLE, "-created_at")
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        rows = await queries.list_jobs(conn, page, {"status": query.status,
                                                    "kind": query.kind})
    found = page.page(rows)
    found["data"] = [job_out(r) for r in found["data"]]
    return json_response(found)


async def _job(request: web.Request) -> Any:
    job_id = path_id(request)
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        row = await queries.one_job(conn, job_id)
    if row is None:
        raise NotFound("No such export")
    return row


@routes.get("/api/v1/exports/{id}")
@doc(summary="One of my export jobs", response=ExportJobOut, tags=["exports"])
async def get_export(request: web.Request) -> web.Response:
    return json_response(job_out(await _job(request)))


@routes.get("/api/v1/exports/{id}/download")
@doc(summary="The finished file: the bytes (file://) or 302 to a short-lived URL (S3; JSON "
             "{url, expires_at} with Accept: application/json); 409 before it is done, 410 "
             "once expired",
     response=LinkOut, media=["application/json", "application/octet-stream"], also=[302],
     errors=[409, 410], tags=["exports"])
async def download_export(request: web.Request) -> web.StreamResponse:
    row = await _job(request)
    now = dt.datetime.now(dt.UTC)
    if row["status"] == "expired" or (row["status"] == "done" and row["expires_at"] <= now):
        raise Gone("The export's file has expired", code="export_expired")
    if row["status"] != "done" or not row["object_key"]:
        raise Conflict("The export is not done", code="export_not_ready",
                       extra={"status": row["status"]})
    storage = request.app[STORAGE]
    media = row["media_type"] or "application/octet-stream"
    await audit_export(request.app[POOL], await actor(request), row, rows=row["rows"] or 0,
                       size=row["bytes"] or 0, complete=True, download=True)
    target = await storage.download_target(row["object_key"], row["file_name"], media)
    if target is None:
        return await stream_file(request, storage, row["object_key"],
                                 file_name=row["file_name"], content_type=media,
                                 size=row["bytes"], inline=False)
    if "application/json" in request.headers.get("Accept", ""):
        return json_response({"url": target.url, "expires_at": target.expires_at})
    return web.Response(status=302, headers={"Location": target.url, **DOWNLOAD_HEADERS})

