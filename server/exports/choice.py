"""Which file a list request asks for: `?format=csv|xlsx|json` first, else the first of
the Accept header's types this service can answer; `?bom=1` for a CSV Excel opens as
UTF-8. Bad values are 422 problems, like any bad query parameter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web
from multidict import MultiDict

from server.errors import Invalid
from server.exports.marks import CSV, FORMATS, XLSX

# Query parameters of the export itself, taken off before the list reads its query.
EXPORT_PARAMS = ("format", "bom")
# ... and the paging ones: an export is the whole result, not one page of it.
PAGE_PARAMS = ("limit", "cursor")
_TRUE, _FALSE = ("1", "true"), ("0", "false")
_BY_MEDIA = {CSV: "csv", XLSX: "xlsx", "application/json": "json", "*/*": "json",
             "application/*": "json", "text/*": "csv"}


@dataclass(frozen=True)
class Choice:
    format: str  # csv | xlsx
    bom: bool = False

    @property
    def media(self) -> str:
        return FORMATS[self.format]


def _accepted(accept: str) -> str:
    """The format of the first media type of Accept this service answers (q ignored)."""
    for part in accept.split(","):
        found = _BY_MEDIA.get(part.split(";")[0].strip().lower())
        if found is not None:
            return found
    return "json"


def list_query(request: web.Request) -> MultiDict[str]:
    """The request's query without the export's own parameters: the list's."""
    return MultiDict((k, v) for k, v in request.query.items() if k not in EXPORT_PARAMS)


def as_list_request(request: web.Request) -> web.Request:
    """The request as the list handler reads it (the export's parameters taken off)."""
    if not any(name in request.query for name in EXPORT_PARAMS):
        return request
    return request.clone(rel_url=request.rel_url.with_query(list_query(request)))


def requested(request: web.Request) -> Choice | None:
    """The file a request asks for (`choice_of` its query and Accept header)."""
    return choice_of(request.query, request.headers.get("Accept", ""))


def choice_of(query: Mapping[str, str], accept: str) -> Choice | None:
    """The file asked for, or None for the JSON page."""
    fmt = query["format"] if "format" in query else _accepted(accept)
    if fmt not in ("json", *FORMATS):
        raise Invalid("Unknown export format",
                      errors=[{"field": "format", "message": "one of json, csv, xlsx"}])
    bom = query.get("bom", "false").lower()
    if bom not in (*_TRUE, *_FALSE):
        raise Invalid("bom is a boolean", errors=[{"field": "bom", "message": "true or false"}])
    return None if fmt == "json" else Choice(fmt, bom in _TRUE)
