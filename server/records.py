"""The request side of every resource's CRUD: ids from the path, the fields a PATCH named,
one record read or deleted, the project a record belongs to, and optimistic concurrency
(If-Match against the row's version: 412 when it moved on).

Two ways to write one row, both with the same answers (404 "No such <noun>" when the row is
not visible, 412 with the current version when If-Match names another):
- a guarded write (`db.queries.rows.update_row` / `delete_row` with the expected version),
  then `written` / `missing_or_stale` when it touched no row;
- `locked` first, when the route must read the row before deciding what to write
  (workflows, authorship, links), then `rows.update_locked` / an unguarded delete.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

import asyncpg
import pydantic
from aiohttp import web

from db.pool import transaction
from db.queries import rows
from db.queries.projects import project_refs
from server.auth.identity import actor
from server.errors import Invalid, NotFound, PreconditionFailed
from server.keys import POOL
from server.rest import etag, if_match
from server.writes import writes

Fetch = Callable[[asyncpg.Connection, uuid.UUID], Awaitable[asyncpg.Record | None]]


def path_id(request: web.Request, name: str = "id") -> uuid.UUID:
    """A UUID from the path; anything else names no record (404, never a 500)."""
    raw = request.match_info.get(name, "")
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound("Not found", code="not_found") from None


def provided(model: pydantic.BaseModel) -> dict[str, Any]:
    """The fields a PATCH body actually named. An explicit null clears a column, except in
    the model's `NOT_NULL` fields, which are refused together (422)."""
    changes = {name: getattr(model, name) for name in model.model_fields_set}
    not_null = getattr(model, "NOT_NULL", ())
    nulls = [name for name in not_null if name in changes and changes[name] is None]
    if nulls:
        raise Invalid("Some fields may not be null",
                      errors=[{"field": name, "message": "may not be null"} for name in nulls])
    return changes


def noun(table: str) -> str:
    """`material_specs` -> `material spec`: what a 404 calls one row of the table."""
    return table.removesuffix("s").replace("_", " ")


def stale(current: int) -> PreconditionFailed:
    """The 412 of a write against another version than `current`."""
    return PreconditionFailed(f"The record has changed (current version {current})",
                              extra={"current_version": current},
                              headers={"ETag": etag(current)})


def check_version(current: int, expected: int | None) -> None:
    """412 with the current version when If-Match named another one."""
    if expected is not None and expected != current:
        raise stale(current)


async def locked(conn: asyncpg.Connection, table: str, record_id: uuid.UUID,
                 expected: int | None) -> asyncpg.Record:
    """The row, locked until the transaction ends: 404 when it is not visible, 412 when
    `expected` (If-Match) names another version."""
    current = await rows.lock_row(conn, table, record_id)
    if current is None:
        raise NotFound(f"No such {noun(table)}")
    check_version(current["version"], expected)
    return current


async def missing_or_stale(conn: asyncpg.Connection, table: str, record_id: uuid.UUID) -> NoReturn:
    """After a guarded write touched no row: 412 with the current version, or 404."""
    current = await rows.version_of(conn, table, record_id)
    if current is None:
        raise NotFound(f"No such {noun(table)}")
    raise stale(current)


async def written(conn: asyncpg.Connection, table: str, record_id: uuid.UUID,
                  row: asyncpg.Record | None) -> asyncpg.Record:
    """The row a guarded write returned; 404 or 412 when it touched none."""
    if row is None:
        await missing_or_stale(conn, table, record_id)
    return row


async def read_one(request: web.Request, table: str, record_id: uuid.UUID,
                   fetch: Fetch) -> asyncpg.Record:
    """One record, read through row-level security; 404 when it is not visible."""
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        row = await fetch(conn, record_id)
    if row is None:
        raise NotFound(f"No such {noun(table)}")
    return row


async def delete_one(request: web.Request, table: str, record_id: uuid.UUID) -> web.Response:
    """DELETE one record, at the If-Match version if one is given: 204, or 404 / 412."""
    version = if_match(request)
    async with writes(request) as conn:
        if not await rows.delete_row(conn, table, record_id, version):
            await missing_or_stale(conn, table, record_id)
    return web.Response(status=204)


async def visible_project(conn: asyncpg.Connection, project_id: uuid.UUID) -> asyncpg.Record:
    """The project (id, org_id, project_manager_id, client_id, created_by), read through
    row-level security: 404 when it is not visible."""
    row = await project_refs(conn, project_id)
    if row is None:
        raise NotFound("No such project")
    return row
