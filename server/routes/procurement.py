"""A project's procurement schedule (material specs with their order-by and submit-by dates,
delivery status and at-risk flags) and its scope readiness (which scope items are ready for
production, and what blocks the others)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import pydantic
from aiohttp import web

from db.pool import transaction
from db.queries import procurement as queries
from rules import procurement as rules
from rules import readiness
from rules.calendar import Calendar
from server import calendar
from server.auth.identity import actor
from server.exports.route import exportable
from server.keys import POOL
from server.openapi import doc
from server.records import path_id, visible_project
from server.rest import PageParams, SortKey, json_response, keyset, sortable
from server.validation import read_query

routes = web.RouteTableDef()
TAGS = ["procurement"]

SCHEDULE_SORTABLE = {
    # Specs without an on-site date come last (a date no schedule reaches).
    "required_on_site": SortKey("coalesce(required_on_site, '9999-12-31'::date)", "date"),
    **sortable(created_at="timestamptz", description="text", status="text"),
}
READINESS_SORTABLE = sortable(name="text", created_at="timestamptz")


class ScheduleQuery(PageParams):
    at_risk: bool | None = None


class ScheduleOut(pydantic.BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    code: str | None
    description: str
    category: str | None
    supplier_name: str | None
    status: str
    version: int
    lead_time_days: int | None
    required_on_site: dt.date | None
    design_review_days: int | None
    internal_review_days: int | None
    order_by: dt.date | None  # required_on_site - lead time, back to a working day
    submit_by: dt.date | None  # order_by - review durations, in working days
    expected_delivery_on: dt.date | None
    delivery_status: str | None
    ordered_on: dt.date | None
    in_fabrication_on: dt.date | None
    shipped_on: dt.date | None
    delivered_on: dt.date | None
    received_on: dt.date | None
    at_risk: bool
    risk_reasons: list[str]


class ReadinessQuery(PageParams):
    ready: bool | None = None


class BlockingOut(pydantic.BaseModel):
    type: str  # shop_drawing | material_spec
    id: uuid.UUID
    code: str | None
    title: str
    status: str
    delivery_status: str | None


class ReadinessOut(pydantic.BaseModel):
    id: uuid.UUID
    code: str | None
    name: str
    status: str  # the scope item's own status
    readiness: str  # ready | blocked
    ready: bool
    blocking: list[BlockingOut]


def schedule_row(cal: Calendar, row: Mapping[str, Any]) -> dict[str, Any]:
    plan = rules.schedule(cal, row["required_on_site"], row["lead_time_days"],
                          row["design_review_days"], row["internal_review_days"])
    out = {k: row[k] for k in ScheduleOut.model_fields if k in row}
    out |= {"order_by": plan.order_by, "submit_by": plan.submit_by,
            "risk_reasons": list(row["risk_reasons"])}
    return out


@routes.get("/api/v1/projects/{id}/procurement")
@exportable("material_specs")
@doc(summary="A project's procurement schedule: on-site, order-by and submit-by dates, "
     "delivery status and at-risk flags of its material specs", query=ScheduleQuery,
     response=ScheduleOut, many=True, errors=[404], tags=TAGS)
async def procurement_schedule(request: web.Request) -> web.Response:
    project_id = path_id(request)
    query = read_query(request.query, ScheduleQuery)
    page = keyset(query, SCHEDULE_SORTABLE, "required_on_site")
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        await visible_project(conn, project_id)
        cal = await calendar.for_project(conn, project_id)
        rows = await queries.schedule_page(conn, page, project_id, query.at_risk)
    return json_response(page.page(rows, lambda r: schedule_row(cal, r)))


@routes.get("/api/v1/projects/{id}/readiness")
@exportable("scope_items")
@doc(summary="Scope readiness: per item ready or blocked (with the drawings and specs that "
     "block it), and under `summary` the project's share of ready items",
     query=ReadinessQuery, response=ReadinessOut, many=True, errors=[404], tags=TAGS)
async def scope_readiness(request: web.Request) -> web.Response:
    project_id = path_id(request)
    query = read_query(request.query, ReadinessQuery)
    page = keyset(query, READINESS_SORTABLE, "name")
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        await visible_project(conn, project_id)
        items = await queries.readiness_page(conn, page, project_id, query.ready)
        linked = await queries.linked_records(conn, [r["id"] for r in items[:page.limit]])
        counts = await queries.readiness_counts(conn, project_id)
    by_item: dict[uuid.UUID, list[readiness.Linked]] = defaultdict(list)
    shown: dict[uuid.UUID, Mapping[str, Any]] = {}
    for r in linked:
        by_item[r["scope_item_id"]].append(readiness.Linked(r["type"], str(r["id"]), r["status"],
                                                            r["delivery_status"]))
        shown[r["id"]] = r

    def shape(item: Mapping[str, Any]) -> dict[str, Any]:
        blocking = readiness.blocking(by_item.get(item["id"], []))
        return {"id": item["id"], "code": item["code"], "name": item["name"],
                "status": item["status"], "ready": not blocking,
                "readiness": "blocked" if blocking else "ready",
                "blocking": [{"type": b.kind, "id": b.id, "code": shown[uuid.UUID(b.id)]["code"],
                              "title": shown[uuid.UUID(b.id)]["title"], "status": b.status,
                              "delivery_status": b.delivery_status} for b in blocking]}

    body = page.page(items, shape)
    body["summary"] = {"items": counts["items"], "ready": counts["ready"],
                       "share_ready": readiness.share(counts["ready"], counts["items"])}
    return json_response(body)
