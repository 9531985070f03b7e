"""Transmittals: which drawing revisions were issued to whom, when and why; each recipient
is notified live and acknowledges receipt; the project's register shows who has not.

A recipient must be able to read the project (else 422); a client user may only be sent
published revisions (the only ones they can read). Client users read the transmittals
addressed to them (row-level security, migration 0022).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import pydantic
from aiohttp import web

from db.pool import transaction
from db.queries import notifications as notes
from db.queries import transmittals as queries
from db.queries.comments import author_name
from rules.drawings_register import PURPOSES
from server.auth.identity import actor, identity
from server.auth.permissions import Perm, require
from server.errors import Forbidden, Invalid, NotFound
from server.exports.route import exportable
from server.fields import RecordOut
from server.keys import POOL
from server.openapi import doc
from server.records import path_id, read_one, visible_project
from server.rest import PageParams, SortKey, idempotent, json_response, keyset, record
from server.text import MULTI_LINE
from server.validation import ApiModel, read_body, read_query
from server.writes import writes

routes = web.RouteTableDef()
TAGS = ["drawings"]
Purpose = Literal[PURPOSES]  # type: ignore[valid-type]
Message = Annotated[str, pydantic.Field(max_length=5000), MULTI_LINE]
SORTABLE = {"sent_at": SortKey("t.sent_at", "timestamptz")}
PURPOSE_WORDS = {"for_information": "for information", "for_review": "for review",
                 "for_construction": "for construction", "for_tender": "for tender"}


class TransmittalCreate(ApiModel):
    project_id: uuid.UUID
    revision_ids: list[uuid.UUID] = pydantic.Field(min_length=1, max_length=500)
    recipient_user_ids: list[uuid.UUID] = pydantic.Field(min_length=1, max_length=200)
    purpose: Purpose
    message: Message | None = None


class TransmittalQuery(PageParams):
    unacknowledged: bool = False
    revision_id: uuid.UUID | None = None


class RecipientOut(pydantic.BaseModel):
    user_id: uuid.UUID
    acknowledged_at: dt.datetime | None


class TransmittalOut(RecordOut):
    org_id: uuid.UUID
    project_id: uuid.UUID
    purpose: Purpose
    message: str | None
    revision_ids: list[uuid.UUID]
    sent_by: uuid.UUID | None
    sent_at: dt.datetime
    recipients: list[RecipientOut]
    unacknowledged_user_ids: list[uuid.UUID]


def transmittal_out(row: Any) -> dict[str, Any]:
    out = record(row)
    out["unacknowledged_user_ids"] = [r["user_id"] for r in out["recipients"]
                                      if r["acknowledged_at"] is None]
    return out


def _unique(ids: list[uuid.UUID]) -> list[uuid.UUID]:
    return list(dict.fromkeys(ids))


@routes.post("/api/v1/transmittals")
@doc(summary="Issue drawing revisions to recipients (each notified live)",
     body=TransmittalCreate, response=TransmittalOut, status=201, errors=[403, 404],
     tags=TAGS)
@idempotent
async def create_transmittal(request: web.Request) -> web.Response:
    who = identity(request)
    require(who.role, Perm.EDIT_DRAWINGS)
    body = await read_body(request, TransmittalCreate)
    revision_ids = _unique(body.revision_ids)
    recipients = _unique(body.recipient_user_ids)
    async with writes(request) as conn:
        try:
            project = await visible_project(conn, body.project_id)
        except NotFound:
            raise Invalid("No such project", errors=[
                {"field": "project_id", "message": "no such project"}]) from None
        revisions = await queries.revisions_in(conn, project["id"], revision_ids)
        found = {r["id"] for r in revisions}
        missing = [i for i in revision_ids if i not in found]
        if missing:
            raise Invalid("Some revisions are not of this project", code="unknown_revisions",
                          errors=[{"field": "revision_ids",
                                   "message": f"not a revision of the project: {missing[0]}"}])
        readers = await queries.readers_of(conn, project, recipients)
        outsiders = [u for u in recipients if u not in readers]
        if outsiders:
            raise Invalid("Every recipient must be able to read the project",
                          code="recipient_cannot_read",
                          errors=[{"field": "recipient_user_ids",
                                   "message": f"cannot read the project: {outsiders[0]}"}])
        unpublished = [r for r in revisions if r["published_at"] is None]
        if unpublished and await queries.client_users(conn, recipients):
            raise Invalid("Client users may only be sent published revisions",
                          code="unpublished_to_client",
                          errors=[{"field": "revision_ids",
                                   "message": f"not published: {unpublished[0]['id']}"}])
        row = await queries.create(conn, project=project, sent_by=who.user_id,
                                   purpose=body.purpose, message=body.message,
                                   revision_ids=revision_ids, recipient_ids=recipients)
        sender = await author_name(conn, who.user_id)
        sheets = ", ".join(f"{r['number']} {r['revision']}" for r in revisions[:5])
        more = f" and {len(revisions) - 5} more" if len(revisions) > 5 else ""
        others = [u for u in recipients if u != who.user_id]
        if others:
            await notes.notify(
                conn, org_id=project["org_id"], user_ids=others, project_id=project["id"],
                kind="transmittal",
                title=f"{sender} sent you drawings {PURPOSE_WORDS[body.purpose]}"[:300],
                message=(f"{sender} sent you {sheets}{more} {PURPOSE_WORDS[body.purpose]}. "
                         "Please acknowledge receipt."
                         + (f" {body.message}" if body.message else ""))[:2000],
                data={"entity_type": "transmittal", "entity_id": str(row["id"]),
                      "project_id": str(project["id"]), "purpose": body.purpose,
                      "revision_ids": [str(i) for i in revision_ids], "by": str(who.user_id)})
    return json_response(transmittal_out(row), status=201)


@routes.get("/api/v1/transmittals/{id}")
@doc(summary="One transmittal with its recipients and their acknowledgements",
     response=TransmittalOut, errors=[404], tags=TAGS)
async def get_transmittal(request: web.Request) -> web.Response:
    row = await read_one(request, "transmittals", path_id(request), queries.get)
    return json_response(transmittal_out(row))


@routes.post("/api/v1/transmittals/{id}/acknowledge")
@doc(summary="Acknowledge receipt (recipients only; acknowledging again changes nothing)",
     response=TransmittalOut, errors=[403, 404], tags=TAGS)
async def acknowledge(request: web.Request) -> web.Response:
    who = identity(request)
    transmittal_id = path_id(request)
    async with writes(request) as conn:
        if await queries.get(conn, transmittal_id) is None:
            raise NotFound("No such transmittal")
        if await queries.acknowledge(conn, transmittal_id, who.user_id) is None:
            raise Forbidden("Only a recipient acknowledges a transmittal",
                            code="not_a_recipient")
        row = await queries.get(conn, transmittal_id)
    assert row is not None
    return json_response(transmittal_out(row))


@routes.get("/api/v1/projects/{id}/transmittals")
@exportable("transmittals")
@doc(summary="The project's transmittal register, newest first, with who has not "
     "acknowledged (unacknowledged=true: only those still waiting)",
     query=TransmittalQuery, response=TransmittalOut, many=True, errors=[404], tags=TAGS)
async def list_transmittals(request: web.Request) -> web.Response:
    project_id = path_id(request)
    params = read_query(request.query, TransmittalQuery)
    page = keyset(params, SORTABLE, "-sent_at")
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        await visible_project(conn, project_id)
        rows = await queries.list_for_project(
            conn, project_id, page, params.model_dump(include={"unacknowledged", "revision_id"}))
    return json_response(page.page(rows, transmittal_out))
