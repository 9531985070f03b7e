"""The field types of request and answer models, declared once: names, texts, codes, money,
quantities, enumerations, and the bookkeeping every record carries.

Text limits follow API.md ("names and titles up to 300 characters, descriptions and comment
bodies up to 100,000"); where a field has had another limit since it was published it keeps
it under its own name (`MediumText`). Texts refuse control characters; only the multi-line
ones (`LongText`, `Body`) keep tabs and line breaks.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

import pydantic
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from db.json_depth import value_depth
from rules.enums import UNITS
from server.email_address import normalise_email
from server.errors import Invalid
from server.text import MULTI_LINE, ONE_LINE
from server.validation import MAX_FREE_CHARS, MAX_FREE_DEPTH

MAX_NAME = 300
MAX_TEXT = 100_000

# --- texts ---------------------------------------------------------------------------------

Name = Annotated[str, pydantic.Field(min_length=1, max_length=MAX_NAME), ONE_LINE]
# One line, as long as a name (codes, categories, rooms, suppliers, positions).
ShortText = Annotated[str, pydantic.Field(max_length=MAX_NAME), ONE_LINE]
# One line of up to 1,000 characters: the client fields, a project's location and a task's
# category were published with this limit.
MediumText = Annotated[str, pydantic.Field(max_length=1_000), ONE_LINE]
LongText = Annotated[str, pydantic.Field(max_length=MAX_TEXT), MULTI_LINE]
# A text that must say something: a comment's body, a material spec's description.
Body = Annotated[str, pydantic.Field(min_length=1, max_length=MAX_TEXT), MULTI_LINE]
# A word of a list (a task's tags, a user's skills).
Tag = Annotated[str, pydantic.Field(min_length=1, max_length=100), ONE_LINE]
# A machine word: a sort order, a workflow action, a notification type.
Keyword = Annotated[str, pydantic.Field(max_length=64), ONE_LINE]
Phone = Annotated[str, pydantic.Field(max_length=50), ONE_LINE]
# A new address (stored, mailed): full syntax check, then normalised.
Email = Annotated[str, pydantic.Field(max_length=320), ONE_LINE,
                  pydantic.AfterValidator(normalise_email)]
# An address to look an account up by (sign-in, reset): only its shape is checked, so an
# address stored before the stricter check still finds its account.
LoginEmail = Annotated[str, pydantic.Field(
    min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"), ONE_LINE]
Secret = Annotated[str, pydantic.StringConstraints(
    min_length=1, max_length=1024, strip_whitespace=False)]


# --- enumerations --------------------------------------------------------------------------

def one_of(values: Sequence[str]) -> Callable[[str], str]:
    """A validator accepting only the values an enum of db/schema.py allows."""

    def check(value: str) -> str:
        if value not in values:
            raise ValueError(f"must be one of {', '.join(values)}")
        return value

    return check


def listed(values: Sequence[str]) -> Any:
    """The schema side of `one_of`: the OpenAPI document lists the values."""
    return pydantic.Field(json_schema_extra={"enum": list(values)})


@dataclass(frozen=True)
class OneOf:
    """`Annotated[str, OneOf(values)]`: one of `values` (checked by `one_of`: "must be one
    of ..."), listed as the enum of the OpenAPI document."""

    values: tuple[str, ...]

    def __get_pydantic_core_schema__(self, source: Any,
                                     handler: pydantic.GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(one_of(self.values),
                                                            handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema,
                                     handler: pydantic.GetJsonSchemaHandler) -> JsonSchemaValue:
        found = handler(schema)
        found["enum"] = list(self.values)
        return found


Unit = Annotated[str, OneOf(UNITS)]


# --- numbers -------------------------------------------------------------------------------

Percent = Annotated[int, pydantic.Field(ge=0, le=100)]
# Money: "12500.00" or 12500 in, a decimal string out; at most two decimals, never negative.
Money = Annotated[Decimal, pydantic.Field(ge=0, max_digits=14, decimal_places=2,
                                          allow_inf_nan=False)]
MAX_MONEY = Decimal("1e12")  # numeric(14, 2)
Quantity = Annotated[Decimal, pydantic.Field(ge=0, max_digits=14, decimal_places=3)]
Hours = Annotated[Decimal, pydantic.Field(ge=0, max_digits=8, decimal_places=2,
                                          allow_inf_nan=False)]
MoneyOut = Annotated[str, pydantic.Field(pattern=r"^-?\d+(\.\d+)?$",
                                         json_schema_extra={"format": "decimal"})]


def line_total(quantity: Decimal | None, price: Decimal | None, field: str) -> Decimal | None:
    """quantity x price to the cent (half up); 422 naming `field` when it cannot be stored."""
    if quantity is None or price is None:
        return None
    total = (quantity * price).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if total >= MAX_MONEY:
        raise Invalid("The total is too large", errors=[{
            "field": field, "message": "quantity x price must stay below 1,000,000,000,000"}])
    return total


# --- references and free-form values -------------------------------------------------------

# The scope items a task, drawing or spec covers.
ScopeItemIds = Annotated[list[uuid.UUID], pydantic.Field(max_length=500)]


def _bounded_json(value: dict[str, Any]) -> dict[str, Any]:
    """Free-form JSON is stored, audited and sent to sockets as it is: keep it small and
    shallow enough that nothing walking it later can run out of stack or memory."""
    if value_depth(value, stop_above=MAX_FREE_DEPTH) > MAX_FREE_DEPTH:
        raise ValueError(f"may nest at most {MAX_FREE_DEPTH} levels deep")
    if len(json.dumps(value, separators=(",", ":"))) > MAX_FREE_CHARS:
        raise ValueError(f"may take at most {MAX_FREE_CHARS} characters as JSON")
    return value


# A free-form JSON object (the only kind request models accept).
FreeJson = Annotated[dict[str, Any], pydantic.AfterValidator(_bounded_json)]


# --- answers and cross-field checks --------------------------------------------------------

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
