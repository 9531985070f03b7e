"""Sending an export: CSV written to the socket page by page (chunked), XLSX written to a
temporary file in constant-memory mode and then sent; either way at most one page of the
list is in memory. Once the first page has been read (so a refused list is the list's own
problem answer, 404 or 422), an `export` row goes onto the audit trail, whatever happens
next: written before the response's last chunk (a download the client sees complete is on
record), or with `complete: false` and the rows and bytes sent until then when the client
went away or a later page failed."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import tempfile
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic
from aiohttp import web

from db.audience import internal_fields
from db.pool import transaction
from db.queries.events import record_event
from server.audience import hides_costs
from server.auth.identity import actor, identity
from server.errors import Invalid
from server.exports.cells import columns_of
from server.exports.choice import Choice
from server.exports.files import CsvEncoder
from server.exports.workbook import Column, TooManyRows
from server.exports.workbooks import open_workbook
from server.http import answer_headers
from server.keys import POOL

CHUNK = 256 * 1024  # bytes of an XLSX file per write
PROJECT_PATH = "/api/v1/projects/"  # the lists of one project: members, drawings...
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
Page = list[dict[str, Any]]


@dataclass(frozen=True)
class Export:
    entity: str  # the audit row's `entity`; the table whose cost fields client users lose
    model: type[pydantic.BaseModel]  # the list's answer model: the columns
    choice: Choice
    filters: Mapping[str, str]  # the path and query parameters, as the audit row keeps them


@dataclass
class Tally:
    rows: int = 0
    bytes: int = 0
    complete: bool = False
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    response: web.StreamResponse | None = None  # once the answer has been made


def file_name(entity: str, format_: str, now: dt.datetime) -> str:
    """`tasks-20260105-093000.csv`: letters, digits, `_`, `.`, `-` only."""
    return f"{_UNSAFE.sub('_', entity)}-{now:%Y%m%d-%H%M%S}.{format_}"


def export_columns(request: web.Request, export: Export) -> list[Column]:
    hidden = internal_fields(export.entity) if hides_costs(request, export.entity) else None
    return columns_of(export.model, hidden or frozenset())


def _answer(request: web.Request, export: Export, tally: Tally,
            size: int | None = None) -> web.StreamResponse:
    name = file_name(export.entity, export.choice.format, tally.started)
    media = export.choice.media + ("; charset=utf-8" if export.choice.format == "csv" else "")
    response = web.StreamResponse(headers={
        "Content-Type": media, "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store", "Vary": "Accept"})
    if size is None:
        response.enable_chunked_encoding()
    else:
        response.content_length = size
    answer_headers(request, response)  # sent here, before the middleware sees the answer
    tally.response = response
    return response


async def _send_csv(request: web.Request, export: Export, first: Page,
                    rest: AsyncIterator[Page], tally: Tally) -> tuple[web.StreamResponse, bytes]:
    """Everything but the end of the chunked body (`send_export` ends it)."""
    encoder = CsvEncoder(export_columns(request, export), bom=export.choice.bom)
    response = _answer(request, export, tally)
    await response.prepare(request)
    chunk = encoder.header()
    page: Page | None = first
    while page is not None:
        chunk += encoder.rows(page)
        await response.write(chunk)
        tally.rows += len(page)
        tally.bytes += len(chunk)
        chunk = b""
        page = await anext(rest, None)
    return response, b""


async def _send_xlsx(request: web.Request, export: Export, first: Page,
                     rest: AsyncIterator[Page], tally: Tally) -> tuple[web.StreamResponse, bytes]:
    """The file but its last chunk (with a Content-Length, the last byte ends the download:
    `send_export` sends it once the export is on record)."""
    columns = export_columns(request, export)
    with tempfile.TemporaryDirectory(prefix="fpm-export-") as folder:
        path = Path(folder) / "export.xlsx"
        second = await anext(rest, None)
        queued = [] if second is None else [second]
        # A list of one page is written in a thread, a longer one by a process of its own.
        async with open_workbook(path, columns, export.entity, long=bool(queued)) as book:
            page: Page | None = first
            while page is not None:
                # The next page is read while this one is written (PostgreSQL works meanwhile).
                writing = asyncio.ensure_future(book.rows(page))
                try:
                    page = queued.pop() if queued else await anext(rest, None)
                finally:
                    try:
                        await writing
                    except TooManyRows as exc:  # nothing sent yet: a plain problem answer
                        raise Invalid("Too many rows for one worksheet", errors=[{
                            "field": "format",
                            "message": f"xlsx holds at most {exc.args[0]:,} rows: use csv"}],
                        ) from None
            await book.close()
        tally.rows = book.written
        response = _answer(request, export, tally, path.stat().st_size)
        await response.prepare(request)
        with path.open("rb") as file:
            chunk = file.read(CHUNK)
            while following := file.read(CHUNK):
                await response.write(chunk)
                tally.bytes += len(chunk)
                chunk = following
    return response, chunk


async def _audit(request: web.Request, export: Export, tally: Tally) -> None:
    """The user action: who exported what, how much, and whether it all went out."""
    who = identity(request)
    project = export.filters.get("project_id")
    if project is None and request.path.startswith(PROJECT_PATH):  # /projects/{id}/...
        project = request.match_info.get("id")
    try:
        project_id = uuid.UUID(project) if project else None
    except ValueError:
        project_id = None
    details = {"entity": export.entity, "format": export.choice.format,
               "filters": dict(export.filters), "rows": tally.rows, "bytes": tally.bytes,
               "complete": tally.complete}
    async with transaction(request.app[POOL], await actor(request)) as conn:
        await record_event(conn, "export", details, org_id=who.org_id, user_id=who.user_id,
                           project_id=project_id)


async def send_export(request: web.Request, export: Export,
                      pages: AsyncGenerator[Page, None]) -> web.StreamResponse:
    """The whole list as the chosen file, then its audit row."""
    first = await anext(pages)  # a refused list raises here, before anything is sent
    tally = Tally()
    if request.method == "HEAD":  # the headers only: nothing leaves, nothing to audit
        await pages.aclose()
        return _answer(request, export, tally)
    send = _send_csv if export.choice.format == "csv" else _send_xlsx
    try:
        response, last = await send(request, export, first, pages, tally)
    except ConnectionResetError:
        # The client went away: what did leave is on the record, and the answer ends as
        # any answer to a gone client does (not as an error of this service).
        await asyncio.shield(_audit(request, export, tally))
        if tally.response is None:
            raise
        return tally.response
    except BaseException:
        # Failed half way (or cancelled: shielded, the row is still written).
        await asyncio.shield(_audit(request, export, tally))
        raise
    tally.complete = True
    tally.bytes += len(last)
    # Audited before the last chunk: a download the client sees complete is on record.
    await _audit(request, export, tally)
    await response.write_eof(last)
    return response
