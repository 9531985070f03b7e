"""Starting a background export job: the kind's check of the filters (the list's own 422
and 404 problems), the per-user bound (429 with Retry-After), the row, and the worker woken;
answered 202 with the job and its Location. `POST /api/v1/exports` and a synchronous export
handed over to a job (server/exports/route.py) both start here."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from db.pool import transaction
from db.queries import export_jobs as queries
from server.auth.identity import actor, identity
from server.errors import Invalid, TooManyRequests
from server.exports.jobs import EXPORT_WORKER
from server.exports.kinds import kinds_of
from server.keys import POOL, SETTINGS
from server.rest import json_response

RETRY_AFTER = 10  # seconds a client refused for too many jobs waits before asking again


def job_out(row: Any) -> dict[str, Any]:
    keep = row["status"] == "done" and row["expires_at"] is not None
    return {
        "id": row["id"], "kind": row["kind"], "format": row["format"],
        "filters": row["filters"], "status": row["status"], "done": row["done"],
        "total": row["total"], "rows": row["rows"], "bytes": row["bytes"],
        "file_name": row["file_name"], "error": row["error"], "attempts": row["attempts"],
        "created_at": row["created_at"], "started_at": row["started_at"],
        "finished_at": row["finished_at"], "expires_at": row["expires_at"],
        "download": f"/api/v1/exports/{row['id']}/download" if keep else None}


async def start_job(request: web.Request, kind_name: str, format_: str,
                    filters: dict[str, Any]) -> web.Response:
    """Check, queue and answer 202 with the job (`POST /api/v1/exports`, and a synchronous
    export turned into a job)."""
    kind = kinds_of(request.app).get(kind_name)
    if kind is None:
        raise Invalid("Unknown export kind", errors=[{
            "field": "kind", "message": f"one of {', '.join(sorted(kinds_of(request.app)))}"}])
    if format_ not in kind.formats:
        raise Invalid("Unknown export format", errors=[{
            "field": "format", "message": f"one of {', '.join(sorted(kind.formats))}"}])
    if kind.check is not None:
        filters = await kind.check(request, filters)
    who = identity(request)
    settings = request.app[SETTINGS]
    async with transaction(request.app[POOL], await actor(request)) as conn:
        row = await queries.create_job(conn, org_id=who.org_id, user_id=who.user_id,
                                       kind=kind_name, format_=format_, filters=filters,
                                       at_most=settings.export_jobs_per_user)
    if row is None:
        raise TooManyRequests(
            f"At most {settings.export_jobs_per_user} exports may be queued or running at once",
            code="too_many_exports", headers={"Retry-After": str(RETRY_AFTER)})
    worker = request.app.get(EXPORT_WORKER)
    if worker is not None:
        worker.wake()
    location = f"/api/v1/exports/{row['id']}"
    return json_response(job_out(row), status=202, headers={"Location": location})
