"""The OpenAPI document: every route of the router is in it, `@doc` metadata enriches it,
and the docs page is served without any third-party asset."""

from __future__ import annotations

import re
from typing import Any

import pydantic
from aiohttp import web
from aiohttp.test_utils import TestClient

from server.errors import Forbidden
from server.openapi import JSON, build_document, doc, doc_of, errors_of
from server.rest import idempotent, json_response
from server.validation import ApiModel, read_body
from tests.server.route_facts import facts_of

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
    """In the document, with what the router knows (test_every_route_is_declared keeps
    such a route out of the app)."""
    document = build_document(_widget_app())
    delete = document["paths"]["/api/v1/widgets/{id}"]["delete"]
    assert delete["summary"] == "Remove a widget."
    assert delete["parameters"][0] == {"name": "id", "in": "path", "required": True,
                                       "schema": {"type": "string", "format": "uuid"}}
    assert {"401", "404"} <= set(delete["responses"])


def test_errors_are_the_declared_ones() -> None:
    """No catch-all: each operation lists its own errors, so schemathesis' status code
    check means something; If-Match is offered exactly where 412 is declared."""
    document = build_document(_widget_app())
    create = document["paths"]["/api/v1/widgets"]["post"]
    assert "default" not in create["responses"]
    assert set(create["responses"]) == {"201", "400", "401", "409", "413", "414", "422", "503"}
    assert not any(p["name"] == "If-Match" for p in create["parameters"])
    listing = document["paths"]["/api/v1/widgets"]["get"]
    assert set(listing["responses"]) == {"200", "401", "414", "422", "503"}
    assert document["components"]["responses"]["401"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


# --- every route declares itself --------------------------------------------------------

UNDOCUMENTED = ("/socket.io", "/static/")  # the Socket.IO transport, the console's files


def declared_routes(app: web.Application) -> list[tuple[web.AbstractRoute, str]]:
    """(route, path) of every route but the console's and Socket.IO's."""
    out = []
    for route in app.router.routes():
        if route.method in ("HEAD", "OPTIONS", "*") or route.resource is None:
            continue
        info = route.resource.get_info()
        path = info.get("path") or info.get("formatter")
        if path is None or path == "/" or path.startswith(UNDOCUMENTED):
            continue
        out.append((route, _PARAM.sub(r"{\1}", path)))
    return out


def undeclared(route: web.AbstractRoute, path: str) -> list[str]:
    """What the route's declaration leaves out or gets wrong, judged by its code."""
    meta = doc_of(route.handler)
    facts = facts_of(route.handler)
    where = f"{route.method} {path}"
    wrong = []
    if not meta.summary:
        wrong.append(f"{where}: no summary")
    if facts.body_models != ({meta.body} if meta.body else set()):
        wrong.append(f"{where}: reads the body as {facts.body_models or 'nothing'}, "
                     f"declares {meta.body}")
    if facts.query_models != ({meta.query} if meta.query else set()):
        wrong.append(f"{where}: reads the query as {facts.query_models or 'nothing'}, "
                     f"declares {meta.query}")
    if facts.reads_query_directly:
        wrong.append(f"{where}: reads request.query without read_query")
    if meta.response is None and meta.status != 204 and (
            facts.answers_json or (meta.media == (JSON,) and meta.status != 202)):
        wrong.append(f"{where}: answers {meta.status} without a declared response model")
    missing = facts.errors - errors_of(route, path)
    if missing:
        wrong.append(f"{where}: can answer {sorted(missing)}, not declared")
    return wrong


def test_every_route_is_declared(app: web.Application) -> None:
    routes = declared_routes(app)
    assert len(routes) > 60
    wrong = [problem for route, path in routes for problem in undeclared(route, path)]
    assert not wrong, "\n".join(wrong)


class Gadget(ApiModel):
    name: str


def test_an_undeclared_route_is_detected() -> None:
    """The check is not vacuous: a handler that reads another model than it declares,
    raises an undeclared 403 and answers JSON without a model is reported."""
    routes = web.RouteTableDef()

    @routes.post("/api/v1/gadgets")
    @doc(summary="Create a gadget", body=Widget, status=201)
    async def create_gadget(request: web.Request) -> web.Response:
        body = await read_body(request, Gadget)
        if body.name == "x":
            raise Forbidden("no")
        return json_response(body.model_dump(), status=201)

    @routes.get("/api/v1/gadgets")
    async def list_gadgets(request: web.Request) -> web.Response:
        return json_response({"q": dict(request.query)})

    app = web.Application()
    app.add_routes(routes)
    problems = [p for route, path in declared_routes(app) for p in undeclared(route, path)]
    assert problems == [
        f"POST /api/v1/gadgets: reads the body as {{{Gadget!r}}}, declares {Widget!r}",
        "POST /api/v1/gadgets: answers 201 without a declared response model",
        "POST /api/v1/gadgets: can answer [403], not declared",
        "GET /api/v1/gadgets: no summary",
        "GET /api/v1/gadgets: reads request.query without read_query",
        "GET /api/v1/gadgets: answers 200 without a declared response model",
    ]


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
