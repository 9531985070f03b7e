"""Shared pieces of the project-owned resources: field types, path ids, list filters,
project visibility, version checks and workflow audit events."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

import asyncpg
import pydantic
from aiohttp import web

from db.queries.item_links import foreign_scope_items
from rules.enums import UNITS
from server.errors import Invalid, NotFound, PreconditionFailed
from server.rest import Keyset, etag
from server.text import MULTI_LINE, ONE_LINE

# Texts refuse control characters; only LongText and Body keep tabs and line breaks.
Name = Annotated[str, pydantic.StringConstraints(min_length=1, max_length=300), ONE_LINE]
ShortText = Annotated[str, pydantic.StringConstraints(max_length=300), ONE_LINE]
LongText = Annotated[str, pydantic.StringConstraints(max_length=100_000), MULTI_LINE]
Body = Annotated[str, pydantic.StringConstraints(min_length=1, max_length=100_000), MULTI_LINE]
Money = Annotated[Decimal, pydantic.Field(ge=0, max_digits=14, decimal_places=2)]
Quantity = Annotated[Decimal, pydantic.Field(ge=0, max_digits=14, decimal_places=3)]
MAX_MONEY = Decimal("1e12")  # numeric(14, 2)
ScopeItemIds = Annotated[list[uuid.UUID], pydantic.Field(max_length=500)]


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


Unit = Annotated[str, pydantic.AfterValidator(one_of(UNITS)), listed(UNITS)]


def line_total(quantity: Decimal | None, price: Decimal | None, field: str) -> Decimal | None:
    """quantity x price to the cent (half up); 422 naming `field` when it cannot be stored."""
    if quantity is None or price is None:
        return None
    total = (quantity * price).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if total >= MAX_MONEY:
        raise Invalid("The total is too large", errors=[{
            "field": field, "message": "quantity x price must stay below 1,000,000,000,000"}])
    return total


def path_id(request: web.Request, name: str = "id") -> uuid.UUID:
    """A UUID from the path; anything else names no record (404, never a 500)."""
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise NotFound("No such record") from None


async def visible_project(conn: asyncpg.Connection, project_id: uuid.UUID) -> asyncpg.Record:
    """The project, read through row-level security: 404 when it is not visible."""
    row = await conn.fetchrow(
        "SELECT id, org_id, project_manager_id, client_id, created_by FROM projects "
        "WHERE id = $1", project_id)
    if row is None:
        raise NotFound("No such project")
    return row


async def scope_items_of(conn: asyncpg.Connection, project_id: uuid.UUID,
                         item_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """The distinct ids, sorted as the database sorts them; 422 naming `scope_item_ids`
    when one is not a scope item of the project (or not visible to the caller)."""
    unique = sorted(set(item_ids))
    foreign = await foreign_scope_items(conn, project_id, unique)
    if foreign:
        raise Invalid("Some scope items are not part of this project", errors=[{
            "field": "scope_item_ids", "message": f"not in this project: {foreign[0]}"}])
    return unique


def with_sorted_links(values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` with `scope_item_ids` as a sorted set, so stored and sent links compare."""
    out = dict(values)
    if out.get("scope_item_ids") is not None:
        out["scope_item_ids"] = sorted(set(out["scope_item_ids"]))
    return out


def where_all(conditions: Sequence[tuple[str, Any]], page: Keyset) -> tuple[str, list[Any]]:
    """AND of `column = $n` style conditions whose value is not None, plus the cursor.

    Each condition is an SQL fragment with one `{}` for its parameter number.
    """
    parts: list[str] = []
    args: list[Any] = []
    for sql, value in conditions:
        if value is None:
            continue
        args.append(value)
        parts.append(sql.format(f"${len(args)}"))
    after, after_args = page.where(len(args) + 1)
    parts.append(after)
    return " AND ".join(parts), args + after_args


def check_version(current: int, expected: int | None) -> None:
    """412 with the current version when If-Match named another one."""
    if expected is not None and expected != current:
        raise PreconditionFailed(
            f"The record has changed (current version {current})",
            extra={"current_version": current}, headers={"ETag": etag(current)})


async def record_transition(conn: asyncpg.Connection, row: asyncpg.Record, table: str,
                            user_id: uuid.UUID, details: dict[str, Any]) -> None:
    """A `transition` audit row (with the comment) beside the trigger's `update` row."""
    await conn.execute(
        "SELECT fpm_record_event('transition', $1, $2, $3::jsonb, $4, $5, $6)",
        row["org_id"], user_id, details, table, row["id"], row["project_id"])


def _reject_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may not be null")
    return value


def not_null(*fields: str) -> Any:
    """A validator for PATCH models: these fields may be left out, but not set to null."""
    return pydantic.field_validator(*fields)(_reject_null)
