"""What a background export job can produce: a registry of kinds, one per app.

Every list route marked `@exportable("<table>")` is a kind of that name (formats csv and
xlsx): its filters are the list's query parameters (and its path parameters by name, e.g.
`{"id": <project>}` for a project's members), checked exactly as the list checks them, and
the job replays the list handler as the requester, page by page, under row-level security
(`server/exports/route.py`), writing with the same cell writers as a synchronous export.
All of it runs in one snapshot (`db.pool.snapshot`: every page's read-only transaction joins
it), and it starts with the list query's own `count(*)` (`db.queries.rows.COUNTING`), so
the job's total is known before the first row and equals the rows written at the end.

Another kind plugs in with `register_kind(app, name, formats, runner, check=...)` before the
app starts (e.g. a weekly PDF report):

    async def check(request, filters) -> dict:      # at POST: 422/404 problems, normalised
        ...                                         # filters (stored with the job)
    async def runner(job: JobRun) -> Produced:      # in a worker, as the requester
        ... write the file to job.path, call `await job.progress(done, total)` now and then
        ... (the same `total` from the first call: what `done` ends at)
        return Produced(rows=n, media_type="application/pdf", file_name="weekly.pdf")

`job.request(...)` builds a request of the requester (identity re-derived from the stored
user) for code that reads one; `job.actor` opens transactions as the requester.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import MultiDict
from yarl import URL

from db.pool import Actor, snapshot
from db.queries.rows import COUNTING, RowCount
from server.auth.identity import IDENTITY, Identity
from server.errors import Invalid
from server.exports.choice import EXPORT_PARAMS, PAGE_PARAMS, Choice
from server.exports.files import CsvEncoder
from server.exports.marks import EXPORT_ATTR, FORMATS, export_entity
from server.exports.route import Handler, largest_page, list_pages
from server.exports.send import PROJECT_PATH, Export, export_columns, file_name
from server.exports.workbook import Column, TooManyRows
from server.exports.workbooks import Workbook, open_workbook
from server.keys import POOL, SETTINGS
from server.openapi import doc_of
from server.rest import REPLAYING
from server.validation import check_query

log = logging.getLogger("formula_pm.exports")

MAX_FILTERS = 40
MAX_FILTER_CHARS = 1000
Progress = Callable[[int, int | None], Awaitable[None]]


class JobFailed(Exception):
    """A job that cannot produce its file: the message is the job's `error`."""


@dataclass(frozen=True)
class Produced:
    rows: int
    media_type: str
    file_name: str
    details: Mapping[str, Any] = field(default_factory=dict)  # more for the audit row


@dataclass
class JobRun:
    """One run of a job, handed to its kind's runner."""

    app: web.Application
    id: uuid.UUID
    kind: str
    format: str
    filters: Mapping[str, Any]
    who: Identity
    actor: Actor
    path: Path  # where the runner writes the file
    progress: Progress  # (done, total or None): pushed to the requester, stored, paced

    def request(self, path: str = "/", match_info: Mapping[str, str] | None = None,
                query: Mapping[str, str] | None = None) -> web.Request:
        return requester_request(self.app, self.who, path, match_info or {}, query or {})


Check = Callable[[web.Request, Mapping[str, str]], Awaitable[dict[str, Any]]]
Runner = Callable[[JobRun], Awaitable[Produced]]


@dataclass(frozen=True)
class JobKind:
    name: str
    formats: frozenset[str]
    run: Runner
    check: Check | None = None
    lists: Handler | None = None  # the list handler a list kind replays


KINDS: web.AppKey[dict[str, JobKind]] = web.AppKey("export_kinds")


def register_kind(app: web.Application, name: str, formats: set[str] | frozenset[str],
                  runner: Runner, check: Check | None = None, *,
                  lists: Handler | None = None) -> None:
    """Add (or replace) a kind of export job."""
    app.setdefault(KINDS, {})[name] = JobKind(name, frozenset(formats), runner, check, lists)


def kinds_of(app: web.Application) -> dict[str, JobKind]:
    kinds: dict[str, JobKind] = app.setdefault(KINDS, {})
    return kinds


def requester_request(app: web.Application, who: Identity, path: str,
                      match_info: Mapping[str, str], query: Mapping[str, str]) -> web.Request:
    """A GET request of the requester, as the authentication middleware would have left
    it, for replaying a handler outside of any connection (a job's worker)."""
    url = URL(path).with_query(MultiDict(query))
    request = make_mocked_request("GET", str(url), headers={"Accept": "application/json"},
                                  app=app, match_info=dict(match_info), transport=_NoPeer())
    request[IDENTITY] = who
    return request


class _NoPeer:
    """The transport of a request nobody sent: no peer address."""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def is_closing(self) -> bool:
        return False


def filter_query(filters: Mapping[str, Any]) -> MultiDict[str]:
    """A job's filters as query parameters (strings); 422 for what a query cannot say."""
    if not isinstance(filters, Mapping) or len(filters) > MAX_FILTERS:
        raise Invalid("Too many filters", errors=[{
            "field": "filters", "message": f"an object of at most {MAX_FILTERS} filters"}])
    query: MultiDict[str] = MultiDict()
    for name, value in filters.items():
        if name in (*EXPORT_PARAMS, *PAGE_PARAMS) or len(name) > 64:
            raise Invalid("Not a filter", errors=[{
                "field": f"filters.{name[:64]}", "message": "not a filter of an export job"}])
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int | float | str):
            text = str(value)
        else:
            raise Invalid("A filter is a string, a number or a boolean", errors=[{
                "field": f"filters.{name}", "message": "a string, a number or a boolean"}])
        if len(text) > MAX_FILTER_CHARS:
            raise Invalid("Filter too long", errors=[{
                "field": f"filters.{name}", "message": f"at most {MAX_FILTER_CHARS} characters"}])
        query[name] = text
    return query


# --- the lists ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ListSource:
    entity: str
    path: str  # the route's path template (`/api/v1/projects/{id}/members`)
    params: tuple[str, ...]  # its path parameters
    handler: Handler  # the list handler itself (under `@exportable`)

    def split(self, filters: Mapping[str, Any]) -> tuple[dict[str, str], MultiDict[str]]:
        """(path parameters, query parameters) of a job's filters: 422 when a path
        parameter is missing."""
        query = filter_query(filters)
        missing = [p for p in self.params if p not in query]
        if missing:
            raise Invalid("Missing filter", errors=[
                {"field": f"filters.{p}", "message": "required"} for p in missing])
        path = {p: query.pop(p) for p in self.params}
        meta = doc_of(self.handler)
        if meta.query is not None:
            check_query(query, meta.query)  # exactly the list's own check
        elif query:
            raise Invalid("Unknown filter", errors=[
                {"field": f"filters.{k}", "message": "unknown"} for k in query])
        return path, query

    def request(self, app: web.Application, who: Identity, path: Mapping[str, str],
                query: Mapping[str, str]) -> web.Request:
        url = self.path.format(**{p: quote(path[p], safe="") for p in self.params})
        return requester_request(app, who, url, path, query)

    async def check(self, request: web.Request, filters: Mapping[str, str]) -> dict[str, Any]:
        """The list's own answer to its first row: its 404 or 422 before anything is
        queued."""
        path, query = self.split(filters)
        asked = MultiDict(query)
        asked["limit"] = "1"
        replay = self.request(request.app, request[IDENTITY], path, asked)
        token = REPLAYING.set(True)
        try:
            await self.handler(replay)
        finally:
            REPLAYING.reset(token)
        return dict(filters)

    def project_of(self, path: Mapping[str, str], query: Mapping[str, str]) -> str | None:
        if "project_id" in query:
            return query["project_id"]
        return path.get("id") if self.path.startswith(PROJECT_PATH) else None

    async def run(self, job: JobRun) -> Produced:
        """The list's file, read in one snapshot as the requester: counted first (the total
        of every progress event), then written page by page."""
        path, query = self.split(job.filters)
        request = self.request(job.app, job.who, path, query)
        meta = doc_of(self.handler)
        assert meta.response is not None
        rows = job.app[SETTINGS].export_job_page_rows or largest_page(meta.query)
        export = Export(self.entity, meta.response, Choice(job.format), {**path, **query})
        columns = export_columns(request, export)
        async with AsyncExitStack() as open_book:
            async with snapshot(job.app[POOL], job.actor):
                total = await self.count(request, query, rows)
                await job.progress(0, total)
                book = None if job.format == "csv" else await open_book.enter_async_context(
                    open_workbook(job.path, columns, self.entity, long=total > rows))
                pages = list_pages(request, self.handler, query, rows)
                try:
                    done = await _write(job, columns, book, pages, total)
                except TooManyRows as exc:
                    raise JobFailed(f"xlsx holds at most {exc.args[0]:,} rows: use csv"
                                    ) from None
                finally:
                    await pages.aclose()
            if book is not None:  # zipping a workbook may take long: not in an idle transaction
                await book.close()
        if done != total:  # one snapshot: only a list that reads outside of it differs
            log.warning("export job %s: %s rows written, %s counted", job.id, done, total)
        project = self.project_of(path, query)
        return Produced(done, FORMATS[job.format] + ("; charset=utf-8" if job.format == "csv"
                                                      else ""),
                        file_name(self.entity, job.format, dt.datetime.now(dt.UTC)),
                        {"project_id": project} if project else {})

    async def count(self, request: web.Request, query: MultiDict[str], limit: int) -> int:
        """The rows the file will hold, before any is written: the list query's own
        `count(*)` (`COUNTING`), asked on a first page of one row; a list whose query does
        not count (search) is read through once and its rows counted."""
        counting = RowCount()
        asked = MultiDict(query)
        asked["limit"] = "1"
        token, replaying = COUNTING.set(counting), REPLAYING.set(True)
        try:
            await self.handler(request.clone(rel_url=request.rel_url.with_query(asked)))
        finally:
            COUNTING.reset(token)
            REPLAYING.reset(replaying)
        if counting.total is not None:
            return counting.total
        total = 0
        pages = list_pages(request, self.handler, query, limit)
        try:
            async for page in pages:
                total += len(page)
        finally:
            await pages.aclose()
        return total


async def _write(job: JobRun, columns: Sequence[Column], book: Workbook | None,
                 pages: AsyncIterator[list[dict[str, Any]]], total: int) -> int:
    """The pages into the job's file (CSV, or `book`): the rows written (at most `total`
    reported)."""
    done = 0
    if book is None:
        encoder = CsvEncoder(columns)
        with job.path.open("wb") as out:
            out.write(encoder.header())
            async for page in pages:
                await asyncio.to_thread(out.write, encoder.rows(page))
                done += len(page)
                await job.progress(min(done, total), total)
        return done
    async for page in pages:
        await book.rows(page)
        done += len(page)
        await job.progress(min(done, total), total)
    return done


def register_lists(app: web.Application) -> None:
    """Every `@exportable` list of the app's router as a kind (the first route of an entity
    that two routes export)."""
    for resource in app.router.resources():
        for route in resource:
            entity = export_entity(route.handler)
            if route.method != "GET" or entity is None or entity in kinds_of(app):
                continue
            handler = _list_handler(route.handler)
            info = resource.get_info()
            template = info.get("formatter") or info.get("path")
            if not isinstance(template, str):
                continue
            params = tuple(p.split(":")[0] for p in _params(template))
            source = ListSource(entity, template, params, handler)
            register_kind(app, entity, set(FORMATS), source.run, source.check, lists=handler)


def _list_handler(handler: Any) -> Handler:
    """The list handler `exportable` wraps (looking through any outer wrapper)."""
    while getattr(handler, EXPORT_ATTR, None) is None:
        handler = handler.__wrapped__
    inner: Handler = handler.__wrapped__
    return inner


def _params(template: str) -> list[str]:
    out, rest = [], template
    while "{" in rest:
        start = rest.index("{")
        end = rest.index("}", start)
        out.append(rest[start + 1:end])
        rest = rest[end + 1:]
    return out
