"""OpenAPI 3.1 generated from the app's router: every route appears, and each handler's
`@doc(...)` declares its summary, the pydantic models of its body, query and answer, and
the errors it can answer with."""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import pydantic
from aiohttp import web

from server.auth.identity import PUBLIC_PATHS, PUBLIC_PREFIXES
from server.errors import PROBLEM_JSON
from server.exports.marks import CSV, XLSX, export_entity
from server.rest import IDEMPOTENCY_KEY_PATTERN, IDEMPOTENT_ATTR, IF_MATCH_PATTERN

DOC_ATTR = "__openapi__"
API_PREFIX = "/api/v1"
REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")

F = TypeVar("F", bound=Callable[..., Any])
Model = type[pydantic.BaseModel]


JSON = "application/json"
# What an exportable list (`server.exports.route.exportable`) also answers with.
EXPORT_MEDIA = {CSV: {"type": "string"}, XLSX: {"type": "string", "format": "binary"}}
EXPORT_PARAMETERS = [
    {"name": "format", "in": "query", "required": False,
     "schema": {"type": "string", "enum": ["json", "csv", "xlsx"]},
     "description": "csv or xlsx: the whole result as a file (or send Accept: text/csv)"},
    {"name": "bom", "in": "query", "required": False, "schema": {"type": "boolean"},
     "description": "csv: start with a UTF-8 byte order mark (for Excel)"},
]


@dataclass(frozen=True)
class Doc:
    """What a route declares about itself: the one place its models and errors are named.

    `body` and `query` are the very models the handler reads with `read_body`/`read_query`
    (tests/server/test_openapi.py checks they are the same, and that every error the
    handler's code can raise is in `errors` or among the ones every such route shares)."""

    summary: str | None = None
    description: str | None = None
    body: Model | None = None
    query: Model | None = None
    response: Model | None = None
    many: bool = False  # the answer is a page: {"data": [response...], "next_cursor"}
    status: int = 200
    errors: frozenset[int] = frozenset()
    tags: tuple[str, ...] = ()
    media: tuple[str, ...] = (JSON,)  # the success answer's content types
    also: tuple[int, ...] = ()  # other statuses answered with the success body


def doc(*, summary: str, description: str | None = None, body: Model | None = None,
        query: Model | None = None, response: Model | None = None, many: bool = False,
        status: int = 200, errors: Iterable[int] = (), tags: Iterable[str] = (),
        media: Iterable[str] = (JSON,), also: Iterable[int] = ()) -> Callable[[F], F]:
    """Declare a route (put it under `@routes.<method>(...)`): its summary, the models of
    its body, query and answer, its success status and the errors it can answer with
    beyond the ones every route of its kind shares (see `shared_errors`)."""
    meta = Doc(summary, description, body, query, response, many, status,
               frozenset(errors), tuple(tags), tuple(media), tuple(also))

    def mark(handler: F) -> F:
        setattr(handler, DOC_ATTR, meta)
        return handler

    return mark


def doc_of(handler: Any) -> Doc:
    """The handler's metadata, looking through `functools.wraps` layers."""
    while handler is not None:
        meta = getattr(handler, DOC_ATTR, None)
        if isinstance(meta, Doc):
            return meta
        handler = getattr(handler, "__wrapped__", None)
    return Doc()


def is_idempotent(handler: Any) -> bool:
    """Whether `server.rest.idempotent` wraps the handler (it honours Idempotency-Key)."""
    while handler is not None:
        if getattr(handler, IDEMPOTENT_ATTR, False):
            return True
        handler = getattr(handler, "__wrapped__", None)
    return False


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail", "code", "request_id", "errors"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"},
        "status": {"type": "integer"}, "detail": {"type": "string"},
        "instance": {"type": "string"},
        "code": {"type": "string"}, "request_id": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["field", "message"],
            "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}},
        "state": {"type": "string",
                  "description": "illegal_transition, record_locked: the record's workflow state"},
        "allowed_actions": {"type": "array", "items": {"type": "string"},
                            "description": "illegal_transition, record_locked: what the caller "
                                           "may do now"},
        "current_version": {"type": "integer", "description": "412: the record's version"},
        "locked_fields": {"type": "array", "items": {"type": "string"},
                          "description": "record_locked: the fields that may not change"},
        "editable_fields": {"type": "array", "items": {"type": "string"},
                            "description": "record_locked: the fields that still may"},
    },
}
PROBLEM_REF = {"$ref": REF.format(model="Problem")}
ERROR_TEXT = {
    400: "Malformed request (bad JSON, bad header)", 401: "Not authenticated",
    403: "Not allowed for this role", 404: "Not found or not visible to this user",
    409: "Conflict (duplicate, illegal state, idempotent request still running)",
    412: "Stale version (If-Match)", 413: "Body larger than MAX_BODY_BYTES",
    414: "URL longer than 8192 characters",
    422: "Invalid input; every bad field is listed", 429: "Too many attempts; see Retry-After",
    503: "Database unavailable or busy; see Retry-After",
    507: "The organisation's storage quota (ORG_STORAGE_QUOTA_BYTES) is used up",
}


class _Builder:
    """Collects component schemas while operations are being described."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}
        self.operation_ids: set[str] = set()
        self.error_codes: set[int] = set()

    def ref(self, model: Model, mode: str) -> dict[str, Any]:
        schema = model.model_json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
        for name, sub in schema.pop("$defs", {}).items():
            self.schemas.setdefault(name, sub)
        self.schemas.setdefault(model.__name__, schema)
        return {"$ref": REF.format(model=model.__name__)}

    def query_parameters(self, model: Model) -> list[dict[str, Any]]:
        schema = model.model_json_schema(ref_template=REF, mode="validation")
        for name, sub in schema.pop("$defs", {}).items():
            self.schemas.setdefault(name, sub)
        required = set(schema.get("required", ()))
        params = []
        for name, prop in schema.get("properties", {}).items():
            param: dict[str, Any] = {"name": name, "in": "query", "required": name in required,
                                     "schema": {k: v for k, v in prop.items()
                                                if k != "description"}}
            if "description" in prop:
                param["description"] = prop["description"]
            params.append(param)
        return params

    def operation_id(self, handler: Any, method: str, path: str) -> str:
        base = getattr(handler, "__name__", "") or "operation"
        candidate = base
        if candidate in self.operation_ids or base.startswith("_") or base == "<lambda>":
            slug = re.sub(r"[^a-zA-Z0-9]+", "_", path).strip("_")
            candidate = f"{method.lower()}_{slug or 'root'}"
        self.operation_ids.add(candidate)
        return candidate


def _path_and_params(resource: web.AbstractResource) -> tuple[str, list[str]] | None:
    info = resource.get_info()
    if "prefix" in info:  # static files
        return f"{info['prefix'].rstrip('/')}/{{filename}}", ["filename"]
    path = info.get("path") or info.get("formatter")
    if path is None:
        return None
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", path), _PARAM.findall(path)


def _path_param(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if name == "id" or name.endswith("_id"):
        schema["format"] = "uuid"
    return {"name": name, "in": "path", "required": True, "schema": schema}


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES) or not path.startswith("/api")


def _success(b: _Builder, meta: Doc, exports: bool = False) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": meta.summary or "Success"}
    if meta.response is not None:
        schema = b.ref(meta.response, "serialization")
        if meta.many:
            schema = {"type": "object", "required": ["data", "next_cursor"], "properties": {
                "data": {"type": "array", "items": schema},
                "next_cursor": {"type": ["string", "null"]}}}
        answer["content"] = {media: {"schema": schema} for media in meta.media}
        if exports:
            answer["content"].update({m: {"schema": s} for m, s in EXPORT_MEDIA.items()})
        if not meta.many and "version" in meta.response.model_fields:
            answer["headers"] = {"ETag": {"description": 'The version, like "3"',
                                          "schema": {"type": "string"}}}
    elif meta.media != (JSON,):
        answer["content"] = {media: {"schema": {"type": "string"}} for media in meta.media}
    return {str(status): answer for status in (meta.status, *meta.also)}


def shared_errors(path: str, meta: Doc, idempotent: bool) -> frozenset[int]:
    """The errors every route of a kind can answer with, whatever its handler does."""
    codes = {414}  # any URL can be too long
    if not is_public(path):
        codes.add(401)
    if path.startswith(API_PREFIX) and path != API_PREFIX + "/openapi.json":
        codes.add(503)  # the database (pool, session check) may be unavailable
    if "{" in path:
        codes.add(404)  # an id that names nothing visible (or is no id at all)
    if meta.body is not None:
        codes |= {400, 413, 422}
    if meta.query is not None:
        codes.add(422)
    if idempotent:
        codes |= {400, 409, 422}  # a bad key, a retry in flight, a key reused
    if 412 in meta.errors:
        codes.add(400)  # a malformed If-Match
    return frozenset(codes)


def errors_of(route: web.AbstractRoute, path: str) -> frozenset[int]:
    """Every error status the route declares, shared or its own."""
    meta = doc_of(route.handler)
    # An exportable list reads `format` and `bom` (EXPORT_PARAMETERS): 422 for bad ones.
    exports = frozenset({422}) if export_entity(route.handler) is not None else frozenset()
    return shared_errors(path, meta, is_idempotent(route.handler)) | meta.errors | exports


def _error_response(code: int) -> dict[str, Any]:
    return {"description": ERROR_TEXT.get(code, "Error"),
            "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}


def _operation(b: _Builder, route: web.AbstractRoute, path: str,
               names: list[str]) -> dict[str, Any]:
    method = route.method
    meta = doc_of(route.handler)
    docstring = (getattr(route.handler, "__doc__", None) or "").strip()
    op: dict[str, Any] = {
        "operationId": b.operation_id(route.handler, method, path),
        "summary": meta.summary or (docstring.splitlines()[0] if docstring else
                                    f"{method} {path}"),
        "tags": list(meta.tags) or [_tag(path)],
    }
    if meta.description:
        op["description"] = meta.description
    params = [_path_param(n) for n in names]
    if meta.query is not None:
        params += b.query_parameters(meta.query)
    exports = export_entity(route.handler) is not None
    if exports:
        params += EXPORT_PARAMETERS
    if 412 in meta.errors:
        params.append({"name": "If-Match", "in": "header", "required": False,
                       "schema": {"type": "string", "pattern": IF_MATCH_PATTERN},
                       "description": 'A version, like "3"'})
    if is_idempotent(route.handler):
        params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                       "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN}})
    if params:
        op["parameters"] = params
    if meta.body is not None:
        op["requestBody"] = {"required": True, "content": {
            JSON: {"schema": b.ref(meta.body, "validation")}}}
    responses = _success(b, meta, exports)
    for code in sorted(errors_of(route, path)):
        responses.setdefault(str(code), {"$ref": f"#/components/responses/{code}"})
        b.error_codes.add(code)
    op["responses"] = responses
    if is_public(path):
        op["security"] = []
    return op


def _tag(path: str) -> str:
    rest = path.removeprefix(API_PREFIX).strip("/")
    return rest.split("/")[0] or "root"


def build_document(app: web.Application, *, title: str = "Formula PM",
                   version: str = "0.1.0") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route of `app.router` (HEAD twins left out)."""
    b = _Builder()
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        if route.method in ("HEAD", "OPTIONS", "*") or route.resource is None:
            continue
        found = _path_and_params(route.resource)
        if found is None:
            continue
        path, names = found
        paths.setdefault(path, {})[route.method.lower()] = _operation(b, route, path, names)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version,
                 "description": "Formula PM REST API (see API.md for the contract)."},
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(b.schemas.items())),
            "responses": {str(code): _error_response(code) for code in sorted(b.error_codes)},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "bearerFormat": "JWT"}},
        },
        "security": [{"bearer": []}],
    }


_documents: weakref.WeakKeyDictionary[web.Application, dict[str, Any]] = (
    weakref.WeakKeyDictionary())


def document_of(app: web.Application) -> dict[str, Any]:
    """The app's document, built once (the router is frozen after start-up)."""
    document = _documents.get(app)
    if document is None:
        document = _documents[app] = build_document(app)
    return document
