"""REST answers as the caller may see them: client users get no internal cost fields
(the rules are db/audience.py's; comment visibility is row-level security's)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from db.audience import internal_fields, is_client, without_internal
from server.auth.identity import identity
from server.rest import record


def hides_costs(request: web.Request, table: str) -> bool:
    """Whether the caller is a client user and `table` holds internal costs."""
    return is_client(identity(request).role) and bool(internal_fields(table))


def shown(request: web.Request, table: str, data: dict[str, Any]) -> dict[str, Any]:
    """One answer object of `table` as the caller may see it."""
    return without_internal(table, data) if hides_costs(request, table) else data


def shaper(request: web.Request, table: str) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """`record` for the rows of a list page, as the caller may see them."""
    if not hides_costs(request, table):
        return record
    return lambda row: without_internal(table, record(row))
