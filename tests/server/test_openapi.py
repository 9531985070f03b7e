"""The OpenAPI document: every route of the router is in it, `@doc` metadata enriches it,
and the docs page is served without any third-party asset."""

from __future__ import annotations

import re
from typing import Any

import pydantic
from aiohttp import web
from aiohttp.test_utils import TestClient

from server.openapi import build_document, doc
from server.rest import idempotent
from server.validation import ApiModel

_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")


def router_operations(app: web.Application) -> set[tuple[str, str]]:
    """(method, path) of every route, read straight from the router."""
    found = set()
    for route in app.router.routes():
        if route.method in ("HEAD", "OPTIONS", "*"):
            continue
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path is not None:
            found.add((route.method.lower(), _PARAM.sub(r"{\1}", path)))
    return found


def document_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method, path) for path, item in document["paths"].items() for method in item}


async def test_every_api_route_is_documented(client: TestClient[Any, Any]) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.1")
    expected = {op for op in router_operations(client.app) if op[1].startswith("/api/v1")}
    missing = expected - document_operations(document)
    assert not missing, f"routes missing from the OpenAPI document: {sorted(missing)}"
    assert ("get", "/api/v1/openapi.json") in expected
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)), "operationIds must be unique"


class Widget(ApiModel):
    name: str = pydantic.Field(max_length=300)


class WidgetQuery(ApiModel):
    colour: str | None = None


class WidgetOut(pydantic.BaseModel):
    id: str
    version: int


def _widget_app() -> web.Application:
    routes = web.RouteTableDef()

    @routes.post("/api/v1/widgets")
    @doc(summary="Create a widget", body=Widget, response=WidgetOut, status=201)
    @idempotent
    async def create_widget(request: web.Request) -> web.Response:
        raise NotImplementedError

    @routes.get("/api/v1/widgets")
    @doc(summary="List widgets", query=WidgetQuery, response=WidgetOut, many=True)
    async def list_widgets(request: web.Request) -> web.Response:
        raise NotImplementedError

    @routes.delete("/api/v1/widgets/{id}")
    async def delete_widget(request: web.Request) -> web.Response:
        """Remove a widget."""
        raise NotImplementedError

    app = web.Application()
    app.add_routes(routes)
    return app


def test_doc_metadata_enriches_operations() -> None:
    document = build_document(_widget_app())
    create = document["paths"]["/api/v1/widgets"]["post"]
    assert create["summary"] == "Create a widget"
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Widget"}
    assert "201" in create["responses"] and "422" in create["responses"]
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])
    listing = document["paths"]["/api/v1/widgets"]["get"]
    assert [p["name"] for p in listing["parameters"]] == ["colour"]
    page = listing["responses"]["200"]["content"]["application/json"]["schema"]
    assert page["properties"]["data"]["items"] == {"$ref": "#/components/schemas/WidgetOut"}
    assert {"Widget", "WidgetOut", "Problem"} <= set(document["components"]["schemas"])
    assert document["components"]["schemas"]["Widget"]["properties"]["name"]["maxLength"] == 300


def test_undecorated_routes_still_appear() -> None:
    document = build_document(_widget_app())
    delete = document["paths"]["/api/v1/widgets/{id}"]["delete"]
    assert delete["summary"] == "Remove a widget."
    assert delete["parameters"][0] == {"name": "id", "in": "path", "required": True,
                                       "schema": {"type": "string", "format": "uuid"}}
    assert {"404", "412", "default"} <= set(delete["responses"])


def test_a_missing_route_is_detected() -> None:
    """The check above is not vacuous: a route left out of the document is noticed."""
    app = _widget_app()
    document = build_document(app)
    del document["paths"]["/api/v1/widgets/{id}"]
    assert router_operations(app) - document_operations(document) == {
        ("delete", "/api/v1/widgets/{id}")}


async def test_docs_page_is_self_contained(client: TestClient[Any, Any]) -> None:
    page = await client.get("/api/docs")
    assert page.status == 200 and page.content_type == "text/html"
    html = await page.text()
    assert "/api/docs/viewer.js" in html and "http" not in html.replace("http-equiv", "")
    script = await client.get("/api/docs/viewer.js")
    assert script.status == 200 and "openapi.json" in await script.text()
    assert (await client.get("/api/docs/viewer.css")).status == 200
    assert (await client.get("/api/docs/../../etc/passwd")).status == 404
