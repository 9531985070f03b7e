"""Edge validation: JSON bodies and query strings into pydantic models, or problem+json."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

import pydantic
from aiohttp import web

from server.email_address import normalise_email
from server.errors import BadRequest, Invalid, pydantic_errors
from server.text import MULTI_LINE, ONE_LINE


class ApiModel(pydantic.BaseModel):
    """Base of request models: unknown fields are rejected, strings trimmed."""

    model_config = pydantic.ConfigDict(extra="forbid", str_strip_whitespace=True)


M = TypeVar("M", bound=pydantic.BaseModel)


async def read_json(request: web.Request) -> Any:
    """The request body as JSON; a body that is not JSON is a 400, never a 500."""
    # body_exists, not can_read_body: @idempotent has already read (and cached) the body.
    if not request.body_exists:
        raise BadRequest("A JSON body is required", code="invalid_json")
    raw = await request.read()
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}", code="invalid_json") from exc


async def read_body(request: web.Request, model: type[M]) -> M:
    data = await read_json(request)
    if not isinstance(data, dict):
        raise Invalid("The body must be a JSON object",
                      errors=[{"field": "body", "message": "must be an object"}])
    return model.model_validate(data)


def read_query(query: Mapping[str, str], model: type[M]) -> M:
    """Query parameters into a model; repeated or unknown parameters are reported."""
    try:
        return model.model_validate(dict(query))
    except pydantic.ValidationError as exc:
        raise Invalid("Invalid query parameters", errors=pydantic_errors(exc)) from exc


# Field types shared by request models (limits from API.md "Text limits"). Texts refuse
# control characters; only LongText keeps tabs and line breaks.
Name = Annotated[str, pydantic.StringConstraints(min_length=1, max_length=300), ONE_LINE]
ShortText = Annotated[str, pydantic.StringConstraints(max_length=300), ONE_LINE]
LongText = Annotated[str, pydantic.StringConstraints(max_length=100_000), MULTI_LINE]
Phone = Annotated[str, pydantic.StringConstraints(max_length=50), ONE_LINE]
# A new address (stored, mailed): full syntax check, then normalised.
Email = Annotated[str, pydantic.StringConstraints(max_length=320), ONE_LINE,
                  pydantic.AfterValidator(normalise_email)]
# An address to look an account up by (sign-in, reset): only its shape is checked, so an
# address stored before the stricter check still finds its account.
LoginEmail = Annotated[str, pydantic.StringConstraints(
    min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"), ONE_LINE]
Secret = Annotated[str, pydantic.StringConstraints(
    min_length=1, max_length=1024, strip_whitespace=False)]
