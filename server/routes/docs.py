"""The served OpenAPI document and the self-contained docs page that renders it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
from aiohttp import web

from server.errors import NotFound
from server.openapi import doc, document_of

routes = web.RouteTableDef()


class OpenApiDocument(pydantic.BaseModel):
    """This very document (its other members are as OpenAPI 3.1 defines them)."""

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]

ASSETS = Path(__file__).resolve().parent.parent / "static" / "docs"
CONTENT_TYPES = {"viewer.js": "text/javascript", "viewer.css": "text/css"}


@routes.get("/api/v1/openapi.json")
@doc(summary="The OpenAPI 3.1 document of this server", response=OpenApiDocument, tags=["docs"])
async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(document_of(request.app))


@routes.get("/api/docs")
@doc(summary="The API docs page (HTML)", media=["text/html"], tags=["docs"])
async def docs_page(request: web.Request) -> web.Response:
    return web.Response(text=(ASSETS / "index.html").read_text(), content_type="text/html")


@routes.get("/api/docs/{asset}")
@doc(summary="Script and style of the docs page", media=sorted(set(CONTENT_TYPES.values())),
     errors=[404], tags=["docs"])
async def docs_asset(request: web.Request) -> web.Response:
    name = request.match_info["asset"]
    if name not in CONTENT_TYPES:
        raise NotFound("No such file")
    return web.Response(text=(ASSETS / name).read_text(), content_type=CONTENT_TYPES[name])
