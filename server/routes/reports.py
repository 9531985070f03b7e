"""/api/v1/projects/{id}/reports/weekly: the weekly project report as PDF
(server/reports/weekly.py), read as the caller under row-level security and audited as an
`export` user action, like the lists' CSV and XLSX files."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

import pydantic
from aiohttp import web

from db.pool import transaction
from db.queries.events import record_event
from server.auth.identity import actor, identity
from server.keys import POOL, STORAGE
from server.openapi import doc
from server.records import path_id
from server.reports import weekly
from server.validation import ApiModel, read_query

routes = web.RouteTableDef()
PDF = "application/pdf"
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class WeeklyQuery(ApiModel):
    paper: Literal["a4", "letter"] = "a4"
    # Days in the project's time zone, both included; default the last 7 days.
    from_: dt.date | None = pydantic.Field(None, alias="from")
    to: dt.date | None = None

    @pydantic.field_validator("from_", "to", mode="before")
    @classmethod
    def _iso_day(cls, value: Any) -> Any:
        """Only `YYYY-MM-DD` (pydantic would take a number as seconds since 1970)."""
        if isinstance(value, str) and not _ISO_DAY.match(value):
            raise ValueError("a date as YYYY-MM-DD")
        return value

    @pydantic.model_validator(mode="after")
    def _period(self) -> WeeklyQuery:
        weekly.check_period(self.from_, self.to)
        return self


@routes.get("/api/v1/projects/{id}/reports/weekly")
@doc(summary="The weekly project report as PDF (cover, figures, charts, submittal log, "
             "drawings revised in the period); client users' copy has no internal costs",
     query=WeeklyQuery, media=[PDF], errors=[429])
async def weekly_report(request: web.Request) -> web.StreamResponse:
    project_id = path_id(request)
    params = read_query(request.query, WeeklyQuery)
    who = identity(request)
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        report, rows = await weekly.collect(
            conn, project_id, start=params.from_, end=params.to, paper=params.paper,
            storage=request.app.get(STORAGE))
    pdf = await weekly.render_pdf(report)
    filters = {"id": str(project_id), "paper": params.paper,
               "from": report.start.isoformat(), "to": report.end.isoformat()}
    async with transaction(request.app[POOL], await actor(request)) as conn:
        await record_event(conn, "export", {
            "entity": "weekly_report", "format": "pdf", "filters": filters, "rows": rows,
            "bytes": len(pdf), "complete": True},
            org_id=who.org_id, user_id=who.user_id, project_id=project_id)
    name = f"weekly-report-{report.start:%Y%m%d}-{report.end:%Y%m%d}.pdf"
    return web.Response(body=pdf, content_type=PDF, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
