"""/api/v1/clients: staff read, admins and project managers create, admins change and
delete; a `client` user sees only its own client."""

from __future__ import annotations

import uuid
from typing import Literal

from aiohttp import web

from db.pool import transaction
from db.queries import clients as queries
from rules.enums import CLIENT_STATUSES
from server.auth.identity import actor, identity
from server.auth.permissions import Perm, require
from server.cache.reads import reads_record, record_response
from server.exports.route import exportable
from server.fields import Email, LongText, MediumText, Money, MoneyOut, Name, RecordOut
from server.keys import POOL
from server.openapi import doc
from server.records import delete_one, path_id, provided, written
from server.rest import PageParams, idempotent, if_match, json_response, keyset, record, sortable
from server.validation import ApiModel, read_body, read_query
from server.writes import writes

routes = web.RouteTableDef()

ClientStatus = Literal[CLIENT_STATUSES]  # type: ignore[valid-type]
SORTABLE = sortable(name="text", created_at="timestamptz", updated_at="timestamptz")


class ClientFields(ApiModel):
    company_name: MediumText | None = None
    contact_person: MediumText | None = None
    email: Email | None = None
    phone: MediumText | None = None
    address: MediumText | None = None
    city: MediumText | None = None
    country: MediumText | None = None
    industry: MediumText | None = None
    status: ClientStatus | None = None
    contract_value: Money | None = None
    payment_terms: MediumText | None = None
    notes: LongText | None = None


class ClientCreate(ClientFields):
    name: Name


class ClientPatch(ClientFields):
    NOT_NULL = ("name", "status")
    name: Name | None = None


class ClientQuery(PageParams):
    status: ClientStatus | None = None


class ClientOut(RecordOut):
    org_id: uuid.UUID
    name: str
    company_name: str | None
    contact_person: str | None
    email: str | None
    phone: str | None
    address: str | None
    city: str | None
    country: str | None
    industry: str | None
    status: ClientStatus
    contract_value: MoneyOut | None
    payment_terms: str | None
    notes: str | None
    legacy_id: str | None


@routes.get("/api/v1/clients")
@exportable("clients")
@doc(summary="List clients", query=ClientQuery, response=ClientOut, many=True)
async def list_clients(request: web.Request) -> web.Response:
    params = read_query(request.query, ClientQuery)
    page = keyset(params, SORTABLE, "name")
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        rows = await queries.list_clients(conn, page, params.model_dump(include={"status"}))
    return json_response(page.page(rows))


@routes.post("/api/v1/clients")
@doc(summary="Create a client (admins and project managers)", body=ClientCreate,
     response=ClientOut, status=201, errors=[403])
@idempotent
async def create_client(request: web.Request) -> web.Response:
    require(identity(request).role, Perm.CREATE_CLIENTS)
    body = await read_body(request, ClientCreate)
    values = body.model_dump(exclude_none=True)
    async with writes(request) as conn:
        row = await queries.create_client(conn, identity(request).org_id, values)
    return json_response(record(row), status=201)


@routes.get("/api/v1/clients/{id}")
@doc(summary="One client", response=ClientOut)
@reads_record("clients")
async def get_client(request: web.Request) -> web.Response:
    client_id = path_id(request)
    return await record_response(request, "clients", client_id, queries.get_client,
                                 "No such client")


@routes.patch("/api/v1/clients/{id}")
@doc(summary="Change a client", body=ClientPatch, response=ClientOut, errors=[403, 412])
async def patch_client(request: web.Request) -> web.Response:
    require(identity(request).role, Perm.MANAGE_CLIENTS)
    client_id = path_id(request)
    version = if_match(request)
    body = await read_body(request, ClientPatch)
    changes = provided(body)
    async with writes(request) as conn:
        row = await written(conn, "clients", client_id,
                            await queries.update_client(conn, client_id, changes, version))
    return json_response(record(row))


@routes.delete("/api/v1/clients/{id}")
@doc(summary="Delete a client (409 while projects or users refer to it)", status=204,
     errors=[403, 409, 412])
async def delete_client(request: web.Request) -> web.Response:
    require(identity(request).role, Perm.MANAGE_CLIENTS)
    return await delete_one(request, "clients", path_id(request))
