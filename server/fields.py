"""Field types shared by request and answer models: names, texts, money, percentages,
and the bookkeeping every record carries."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any

import pydantic
from aiohttp import web
from pydantic_core import PydanticCustomError

from server.errors import Invalid, NotFound
from server.text import MULTI_LINE, ONE_LINE

MAX_NAME = 300
MAX_TEXT = 100_000
MAX_SHORT = 1_000

# Texts refuse control characters; only LongText keeps tabs and line breaks.
Name = Annotated[str, pydantic.Field(min_length=1, max_length=MAX_NAME), ONE_LINE]
ShortText = Annotated[str, pydantic.Field(max_length=MAX_SHORT), ONE_LINE]
LongText = Annotated[str, pydantic.Field(max_length=MAX_TEXT), MULTI_LINE]
Percent = Annotated[int, pydantic.Field(ge=0, le=100)]
# Money: "12500.00" or 12500 in, a decimal string out; at most two decimals, never negative.
Money = Annotated[Decimal, pydantic.Field(ge=0, max_digits=14, decimal_places=2,
                                          allow_inf_nan=False)]
Hours = Annotated[Decimal, pydantic.Field(ge=0, max_digits=8, decimal_places=2,
                                          allow_inf_nan=False)]
MoneyOut = Annotated[str, pydantic.Field(pattern=r"^-?\d+(\.\d+)?$",
                                         json_schema_extra={"format": "decimal"})]


class RecordOut(pydantic.BaseModel):
    """What every single record answers with (documentation models derive from this)."""

    id: uuid.UUID
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


def field_error(field: str, message: str) -> PydanticCustomError:
    """A cross-field error of a model validator that names the field to change (pydantic
    gives such errors no location; `pydantic_errors` reads this one from the context)."""
    return PydanticCustomError("cross_field", message, {"field": field})


def check_dates(start: dt.date | None, end: dt.date | None, end_field: str) -> None:
    """An end before its start is invalid (raised inside a model validator -> 422 on
    `end_field`)."""
    if start is not None and end is not None and end < start:
        raise field_error(end_field, "must not be before start_date")


def provided(model: pydantic.BaseModel, *, not_null: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields a PATCH body actually named (explicit nulls clear a column, except the
    `not_null` ones, which are reported together)."""
    changes = {name: getattr(model, name) for name in model.model_fields_set}
    nulls = [name for name in not_null if name in changes and changes[name] is None]
    if nulls:
        raise Invalid("Some fields may not be null",
                      errors=[{"field": name, "message": "may not be null"} for name in nulls])
    return changes


def path_uuid(request: web.Request, name: str = "id") -> uuid.UUID:
    """A UUID from the path; anything else names no record (404, never a 500)."""
    raw = request.match_info.get(name, "")
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound("Not found", code="not_found") from None
