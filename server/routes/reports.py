"""/api/v1/projects/{id}/reports/weekly: the weekly project report as PDF
(server/reports/weekly.py), read as the caller under row-level security and audited as an
`export` user action, like the lists' CSV and XLSX files.

The same report is the background export job of kind `weekly_report` (format `pdf`, filters
`{project_id, paper?, from?, to?}`): `POST /api/v1/exports`, progress pushed to the
requester, the file kept for 24 h (server/exports/jobs.py); `register_weekly_job` adds it."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from typing import Any, Literal

import pydantic
from aiohttp import web

from db.pool import transaction
from db.queries.events import record_event
from server.auth.identity import actor, identity
from server.errors import Invalid
from server.exports.kinds import JobRun, Produced, filter_query, register_kind
from server.keys import POOL, STORAGE
from server.openapi import doc
from server.records import path_id, visible_project
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


# --- as a background export job ------------------------------------------------------------

JOB_KIND = "weekly_report"


def _job_params(filters: Any) -> tuple[uuid.UUID, WeeklyQuery]:
    query = filter_query(filters)
    raw = query.pop("project_id", None)
    try:
        project_id = uuid.UUID(raw or "")
    except ValueError:
        raise Invalid("The report needs a project", errors=[
            {"field": "filters.project_id", "message": "a project's id"}]) from None
    return project_id, read_query(query, WeeklyQuery)


def _filters(project_id: uuid.UUID, params: WeeklyQuery) -> dict[str, Any]:
    stored: dict[str, Any] = {"project_id": str(project_id), "paper": params.paper}
    if params.from_ is not None:
        stored["from"] = params.from_.isoformat()
    if params.to is not None:
        stored["to"] = params.to.isoformat()
    return stored


async def _check_job(request: web.Request, filters: Any) -> dict[str, Any]:
    """At POST: the filters as the route checks its query (422), the project readable by
    the requester (404)."""
    project_id, params = _job_params(filters)
    async with transaction(request.app[POOL], await actor(request), readonly=True) as conn:
        await visible_project(conn, project_id)
    return _filters(project_id, params)


async def _run_job(job: JobRun) -> Produced:
    project_id, params = _job_params(job.filters)
    await job.progress(0, 2)
    async with transaction(job.app[POOL], job.actor, readonly=True) as conn:
        report, rows = await weekly.collect(
            conn, project_id, start=params.from_, end=params.to, paper=params.paper,
            storage=job.app.get(STORAGE))
    await job.progress(1, 2)
    pdf = await weekly.render_pdf(report, wait=True)  # a slot, where a request gets 429
    await asyncio.to_thread(job.path.write_bytes, pdf)
    await job.progress(2, 2)
    name = f"weekly-report-{report.start:%Y%m%d}-{report.end:%Y%m%d}.pdf"
    return Produced(rows, PDF, name)


def register_weekly_job(app: web.Application) -> None:
    register_kind(app, JOB_KIND, {"pdf"}, _run_job, _check_job)
