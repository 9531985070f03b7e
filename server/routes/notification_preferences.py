"""/api/v1/me/notification-preferences: which notifications reach the caller, and how.

Per project (or for all projects) and per kind, the channel `live`, `email`, `digest` or
`off` (`rules.notifications`); `action_required` cannot be turned off. GET answers the
effective channels (defaults filled in); PUT writes a list of changes in one transaction,
all or nothing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Any

import asyncpg
import pydantic
from aiohttp import web

from db.pool import transaction
from db.queries import notification_preferences as queries
from rules import notifications as rules
from server.auth.identity import actor, identity
from server.errors import Invalid, NotFound
from server.fields import OneOf
from server.keys import POOL
from server.openapi import doc
from server.rest import json_response
from server.validation import ApiModel, read_body, read_query
from server.writes import writes

routes = web.RouteTableDef()
URL = "/api/v1/me/notification-preferences"


class PreferencesQuery(ApiModel):
    project_id: uuid.UUID | None = None


class PreferenceIn(ApiModel):
    """One change: the channel of a kind for a project (none: all projects); a null
    channel removes the choice (the all-projects one, else the default, applies again)."""

    project_id: uuid.UUID | None = None
    kind: Annotated[str, OneOf(rules.KINDS)]
    channel: Annotated[str, OneOf(rules.CHANNELS)] | None


class PreferencesPut(ApiModel):
    preferences: Annotated[list[PreferenceIn],
                           pydantic.Field(min_length=1, max_length=rules.CHANGES_MAX)]


class Preference(pydantic.BaseModel):
    kind: str
    channel: str
    source: str  # project, all_projects or default


class ProjectPreferences(pydantic.BaseModel):
    project_id: uuid.UUID
    preferences: list[Preference]


class PreferencesOut(pydantic.BaseModel):
    kinds: list[str]
    channels: list[str]
    defaults: list[Preference]  # every kind, for all projects
    projects: list[ProjectPreferences]  # projects with a choice of their own (or the one asked)


def _answer(rows: Sequence[asyncpg.Record], only: uuid.UUID | None) -> dict[str, Any]:
    projects = [only] if only is not None else sorted(
        {r["project_id"] for r in rows if r["project_id"] is not None}, key=str)
    return {"kinds": list(rules.KINDS), "channels": list(rules.CHANNELS),
            "defaults": rules.effective(rows, None),
            "projects": [{"project_id": p, "preferences": rules.effective(rows, p)}
                         for p in projects]}


@routes.get(URL)
@doc(summary="My notification preferences: every kind's channel for all projects and for "
     "each project with choices of its own (with project_id: that project's)",
     query=PreferencesQuery, response=PreferencesOut, errors=[404], tags=["notifications"])
async def get_preferences(request: web.Request) -> web.Response:
    query = read_query(request.query, PreferencesQuery)
    who = identity(request)
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        if query.project_id is not None and not await queries.readable_projects(
                conn, [query.project_id]):
            raise NotFound("No such project")
        rows = await queries.of_user(conn, who.user_id)
    return json_response(_answer(rows, query.project_id))


@routes.put(URL)
@doc(summary="Change my notification preferences (all or nothing; action_required cannot "
     "be turned off)", body=PreferencesPut, response=PreferencesOut, errors=[404],
     tags=["notifications"])
async def put_preferences(request: web.Request) -> web.Response:
    who = identity(request)
    body = await read_body(request, PreferencesPut)
    changes = rules.check_changes([item.model_dump() for item in body.preferences])
    wanted = sorted({c.project_id for c in changes if c.project_id is not None}, key=str)
    async with writes(request) as conn:
        readable = await queries.readable_projects(conn, wanted)
        unknown = [i for i, c in enumerate(changes)
                   if c.project_id is not None and c.project_id not in readable]
        if unknown:
            raise NotFound("No such project", errors=[
                {"field": f"preferences[{i}].project_id", "message": "no such project"}
                for i in unknown])
        await queries.write(conn, org_id=who.org_id, user_id=who.user_id, changes=changes)
        if await queries.count(conn, who.user_id) > queries.ROWS_MAX:
            raise Invalid(f"At most {queries.ROWS_MAX} stored preferences",
                          code="too_many_preferences",
                          errors=[{"field": "preferences", "message": "too many stored"}])
        rows = await queries.of_user(conn, who.user_id)
    return json_response(_answer(rows, None))
