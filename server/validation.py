"""Edge validation: JSON bodies and query strings into pydantic models, or problem+json.
(The field types those models use are server/fields.py's.)"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

import pydantic
from aiohttp import web

from db.json_depth import TooDeep, loads_bounded
from server.errors import BadRequest, Invalid, pydantic_errors

# No request body needs more nesting than this (free-form values have their own, lower bound).
MAX_BODY_DEPTH = 32
# A free-form JSON value (e.g. a material spec's `specification`): at most this deep, and at
# most this many characters once written as compact JSON.
MAX_FREE_DEPTH = 16
MAX_FREE_CHARS = 64 * 1024


def _not_null_in_schema(schema: dict[str, Any], model: type[Any]) -> None:
    """The document shows the fields of `NOT_NULL` as optional but never null."""
    properties = schema.get("properties", {})
    for name in getattr(model, "NOT_NULL", ()):
        prop = properties.get(name, {})
        options = [o for o in prop.pop("anyOf", ()) if o != {"type": "null"}]
        if len(options) == 1:
            prop.update(options[0])
        elif options:
            prop["anyOf"] = options
        if prop.get("default", ...) is None:
            del prop["default"]


class ApiModel(pydantic.BaseModel):
    """Base of request models: unknown fields are rejected, strings trimmed."""

    model_config = pydantic.ConfigDict(extra="forbid", str_strip_whitespace=True,
                                       json_schema_extra=_not_null_in_schema)
    # Fields a change may leave out but not set to null (refused with 422).
    NOT_NULL: ClassVar[tuple[str, ...]] = ()


M = TypeVar("M", bound=pydantic.BaseModel)


async def read_json(request: web.Request) -> Any:
    """The request body as JSON; a body that is not JSON is a 400, never a 500."""
    # body_exists, not can_read_body: @idempotent has already read (and cached) the body.
    if not request.body_exists:
        raise BadRequest("A JSON body is required", code="invalid_json")
    raw = await request.read()
    try:
        return loads_bounded(raw, MAX_BODY_DEPTH)
    except TooDeep as exc:
        raise Invalid(f"The body is nested deeper than {MAX_BODY_DEPTH} levels",
                      code="too_deep",
                      errors=[{"field": exc.key or "body", "message": str(exc)}]) from None
    except UnicodeDecodeError:
        raise BadRequest("The body is not UTF-8 text", code="invalid_json") from None
    except json.JSONDecodeError as exc:
        # Where, in our words: the parser's message is a Python detail.
        raise BadRequest(f"The body is not valid JSON (line {exc.lineno}, column {exc.colno})",
                         code="invalid_json") from None
    except RecursionError:  # cannot happen below MAX_BODY_DEPTH; never a 500 if it does
        raise Invalid("The body is nested too deeply", code="too_deep",
                      errors=[{"field": "body", "message": "nested too deeply"}]) from None


async def read_body(request: web.Request, model: type[M]) -> M:
    """The body as `model`, with JSON's types as the OpenAPI document states them: no
    number for a date, no string for a number or a boolean (pydantic's lax mode would
    take `"due_date": 0` as 1970-01-01)."""
    data = await read_json(request)
    if not isinstance(data, dict):
        raise Invalid("The body must be a JSON object",
                      errors=[{"field": "body", "message": "must be an object"}])
    # read_json has vetted the text (JSON, depth); validate it again as JSON, strictly.
    return model.model_validate_json(await request.read(), strict=True)


def read_query(query: Mapping[str, str], model: type[M]) -> M:
    """Query parameters into a model; repeated or unknown parameters are reported."""
    return _query_as(query, model)


def check_query(query: Mapping[str, str], model: type[pydantic.BaseModel]) -> None:
    """422 unless `read_query` would take the parameters (for a wrapper that lets the
    handler read them, as an export does, yet ignores some: the ones it ignores are still
    checked against the document)."""
    _query_as(query, model)


def _query_as(query: Mapping[str, str], model: type[M]) -> M:
    try:
        return model.model_validate(dict(query))
    except pydantic.ValidationError as exc:
        raise Invalid("Invalid query parameters", errors=pydantic_errors(exc)) from exc
