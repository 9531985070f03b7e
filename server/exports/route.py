"""`@exportable(entity)`: a list route that also answers with the whole result as a file.

The export replays the list handler itself, page after page (its largest page, following
`next_cursor`), so a file has by construction the list's filters, sort, permission checks
and fields as the caller may read them (client users: without internal costs): each page
is read in the caller's own transaction under row-level security, exactly as the JSON
list is. While replayed, `json_response` hands the page over unserialised (`REPLAYING`):
the values are those the JSON list would write, not yet written as JSON.

Put it between the route and its `@doc`:

    @routes.get("/api/v1/tasks")
    @exportable("tasks")
    @doc(summary="List tasks", query=TaskQuery, response=TaskOut, many=True)
    async def list_tasks(request): ...
"""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from multidict import MultiDict

from server.exports.choice import PAGE_PARAMS, as_list_request, list_query, requested
from server.exports.marks import EXPORT_ATTR
from server.exports.send import Export, send_export
from server.keys import SETTINGS
from server.openapi import doc_of
from server.rest import MAX_LIMIT, PAGE_DATA, REPLAYING
from server.validation import check_query

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Page = list[dict[str, Any]]


def without(query: Mapping[str, str], names: tuple[str, ...]) -> MultiDict[str]:
    return MultiDict((k, v) for k, v in query.items() if k not in names)


def largest_page(query_model: Any) -> int:
    """The list's own largest `limit` (the toolkit's MAX_LIMIT unless it says otherwise)."""
    if query_model is None:
        return MAX_LIMIT
    limit = query_model.model_json_schema().get("properties", {}).get("limit", {})
    return int(limit.get("maximum", MAX_LIMIT))


async def list_pages(request: web.Request, handler: Handler, query: MultiDict[str],
                 limit: int) -> AsyncGenerator[Page, None]:
    """The list's pages from the first to the last, each the handler's own answer."""
    cursor: str | None = None
    while True:
        asked = MultiDict(query)
        asked["limit"] = str(limit)
        if cursor:
            asked["cursor"] = cursor
        token = REPLAYING.set(True)
        try:
            response = await handler(request.clone(rel_url=request.rel_url.with_query(asked)))
        finally:
            REPLAYING.reset(token)
        body = response[PAGE_DATA]
        assert isinstance(body, dict), "a list answers {data, next_cursor}"
        yield body["data"]
        cursor = body.get("next_cursor")
        if not cursor:
            return


def wants_async(request: web.Request) -> bool:
    """`Prefer: respond-async` (RFC 7240): the client asks for a job instead of the file."""
    return any(p.split(";")[0].strip().lower() == "respond-async"
               for p in request.headers.get("Prefer", "").split(","))


def _can_hand_over(request: web.Request, entity: str, handler: Handler) -> bool:
    """Whether a job of kind `entity` runs this very list (an entity two lists export is
    the kind of the first only)."""
    from server.exports.kinds import kinds_of

    kind = kinds_of(request.app).get(entity)
    return kind is not None and kind.lists is handler


async def _look_ahead(pages: AsyncGenerator[Page, None], most: int
                      ) -> tuple[AsyncGenerator[Page, None], bool]:
    """(the pages again, whether the list has more than `most` rows): at most `most` rows
    are read ahead and kept."""
    kept: list[Page] = []
    rows = 0
    async for page in pages:
        kept.append(page)
        rows += len(page)
        if rows > most:
            await pages.aclose()
            return pages, True
        if len(page) == 0:
            break

    async def again() -> AsyncGenerator[Page, None]:
        for page in kept:
            yield page
        async for page in pages:
            yield page

    if not kept:  # an empty list still answers its header
        kept.append([])
    return again(), False


async def _hand_over(request: web.Request, export: Export) -> web.StreamResponse:
    """202 with a job that makes the same file (`Location`: the job)."""
    from server.exports.start import start_job

    response = await start_job(request, export.entity, export.choice.format,
                               dict(export.filters))
    response.headers["Preference-Applied"] = "respond-async"
    return response


def exportable(entity: str) -> Callable[[Handler], Handler]:
    """Let the list route under it answer `?format=csv|xlsx` (or `Accept: text/csv`) with
    the whole result as a file, audited as an `export` of `entity`."""

    def wrap(handler: Handler) -> Handler:
        meta = doc_of(handler)
        if not meta.many or meta.response is None:
            raise TypeError(f"{entity}: only a documented list (`@doc(many=True)`) exports")
        limit = largest_page(meta.query)
        model = meta.response
        query_model = meta.query

        @functools.wraps(handler)
        async def export_or_list(request: web.Request) -> web.StreamResponse:
            choice = requested(request)
            if choice is None:
                return await handler(as_list_request(request))
            query = list_query(request)
            if query_model is not None:  # limit and cursor are ignored, but must be valid
                check_query(query, query_model)
            filters = without(query, PAGE_PARAMS)
            export = Export(entity, model, choice, {**request.match_info, **filters})
            pages = list_pages(request, handler, filters, limit)
            if request.method == "GET" and _can_hand_over(request, entity, handler):
                if wants_async(request):
                    await pages.aclose()
                    return await _hand_over(request, export)
                most = request.app[SETTINGS].export_sync_max_rows
                if most:
                    pages, over = await _look_ahead(pages, most)
                    if over:
                        return await _hand_over(request, export)
            return await send_export(request, export, pages)

        setattr(export_or_list, EXPORT_ATTR, entity)
        return export_or_list

    return wrap
