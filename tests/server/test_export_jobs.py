"""Background export jobs in one worker, on file:// and on S3: a job's file is the list's
whole result, counted first (its total known from the first progress event), downloadable
by its requester only (404 to anyone else) until it expires (410, then deleted with its
file by the sweep: 404); bad kinds, formats and filters are 422 with nothing queued; at
most two jobs queued or running per user (429); every export and every download is an audit
row."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from db.pool import system_transaction
from server.config import Settings
from server.exports.jobs import EXPORT_WORKER
from server.keys import STORAGE
from storage.settings import StorageSettings
from tests.conftest import World
from tests.server.attachment_client import files_client
from tests.server.project_team import Team, make_team, send
from tests.waiting import eventually

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
EXPORTS = "/api/v1/exports"


@pytest.fixture
async def fclient(aiohttp_client: Callable[..., Any], settings: Settings,
                  backend: StorageSettings) -> AsyncIterator[TestClient[Any, Any]]:
    yield await files_client(aiohttp_client, settings, backend, export_job_page_rows=7)


@pytest.fixture
async def slow(aiohttp_client: Callable[..., Any], settings: Settings,
               tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    """Jobs of one row per page, 300 ms a page."""
    yield await files_client(aiohttp_client, settings,
                             StorageSettings(kind="file", root=tmp_path / "files"),
                             export_job_page_rows=1, export_job_page_delay_ms=300)


async def _tasks(world: World, team: Team, count: int) -> None:
    async with system_transaction(world.pool) as conn:
        await conn.execute(
            """INSERT INTO tasks (org_id, project_id, name, created_at)
               SELECT $1, $2, '=Task ' || g, now() - g * interval '1 second'
               FROM generate_series(1, $3) g""", team.org, team.project, count)


async def _jobs(world: World) -> list[dict[str, Any]]:
    async with system_transaction(world.pool) as conn:
        return [dict(r) for r in await conn.fetch("SELECT * FROM export_jobs ORDER BY created_at")]


async def _exports_of(world: World, user_id: uuid.UUID) -> list[dict[str, Any]]:
    async with system_transaction(world.pool) as conn:
        rows = await conn.fetch("SELECT * FROM audit_logs WHERE action = 'export' "
                                "AND user_id = $1 ORDER BY id", user_id)
    return [dict(r) for r in rows]


async def _finished(client: TestClient[Any, Any], job_id: str,
                    headers: dict[str, str]) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        status, job = await send(client, "GET", f"{EXPORTS}/{job_id}", headers)
        assert status == 200, job
        return job if job["status"] in ("done", "failed") else None

    found: dict[str, Any] = await eventually(done, limit=30, interval=0.1)
    return found


async def _download(client: TestClient[Any, Any], job_id: str,
                    headers: dict[str, str]) -> tuple[int, bytes]:
    response = await client.get(f"{EXPORTS}/{job_id}/download", headers=headers,
                                allow_redirects=False)
    if response.status == 302:  # S3: the bucket answers the file
        async with aiohttp.ClientSession() as http, \
                http.get(response.headers["Location"]) as got:
            return got.status, await got.read()
    return response.status, await response.read()


async def test_a_job_exports_the_whole_list_for_its_requester_only(
        fclient: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, fclient)
    await _tasks(world, team, 30)
    pm, user = team.headers["project_manager"], team.users["project_manager"]
    filters = {"project_id": str(team.project), "status": "pending"}
    response = await fclient.post(EXPORTS, headers=pm, json={
        "kind": "tasks", "format": "csv", "filters": filters})
    job = await response.json()
    assert response.status == 202, job
    assert response.headers["Location"] == f"{EXPORTS}/{job['id']}"
    assert job["status"] == "queued" and job["done"] == 0
    job = await _finished(fclient, job["id"], pm)
    assert job["status"] == "done", job
    assert job["rows"] == job["total"] == job["done"] == 30
    assert job["download"] == f"{EXPORTS}/{job['id']}/download"
    assert job["file_name"].startswith("tasks-") and job["file_name"].endswith(".csv")

    status, body = await _download(fclient, job["id"], pm)
    assert status == 200 and len(body) == job["bytes"]
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert len(rows) == 30 and all(r["name"].startswith("'=Task") for r in rows)
    # Exactly the synchronous export's file (same rows, same cells, same order).
    same = await fclient.get(f"/api/v1/tasks?project_id={team.project}&status=pending"
                             "&format=csv", headers=pm)
    assert await same.read() == body

    # Anyone else: 404 for the job, its download and nothing in their list.
    for who in ("admin", "designer", "stranger", "client"):
        for path in (f"{EXPORTS}/{job['id']}", f"{EXPORTS}/{job['id']}/download"):
            status, _ = await send(fclient, "GET", path, team.headers[who])
            assert status == 404, (who, path)
        status, page = await send(fclient, "GET", EXPORTS, team.headers[who])
        assert status == 200 and page["data"] == []
    status, page = await send(fclient, "GET", EXPORTS, pm)
    assert [j["id"] for j in page["data"]] == [job["id"]]

    # One audit row for the export, one per download, with what went out.
    made, downloaded, synchronous = await _exports_of(world, user["id"])
    for row in (made, downloaded):
        details = row["details"]
        assert details["entity"] == "tasks" and details["format"] == "csv"
        assert details["filters"] == filters and details["rows"] == 30
        assert details["bytes"] == len(body) and details["job_id"] == job["id"]
        assert row["project_id"] == team.project
    assert made["details"]["download"] is False and downloaded["details"]["download"] is True
    assert "job_id" not in synchronous["details"]


async def test_an_xlsx_job_and_a_client_users_job_without_costs(
        fclient: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, fclient)
    pm = team.headers["project_manager"]
    status, group = await send(fclient, "POST", "/api/v1/scope-groups", pm,
                               {"project_id": str(team.project), "name": "Millwork"})
    assert status == 201
    status, _ = await send(fclient, "POST", "/api/v1/scope-items", pm, {
        "project_id": str(team.project), "scope_group_id": group["id"], "name": "Desk",
        "quantity": "2", "unit": "pcs", "unit_price": "1234.50"})
    assert status == 201
    for who, fmt in (("client", "csv"), ("project_manager", "csv"), ("client", "xlsx")):
        status, job = await send(fclient, "POST", EXPORTS, team.headers[who], {
            "kind": "scope_items", "format": fmt, "filters": {"project_id": str(team.project)}})
        assert status == 202, job
        job = await _finished(fclient, job["id"], team.headers[who])
        assert job["status"] == "done" and job["rows"] == 1, job
        status, body = await _download(fclient, job["id"], team.headers[who])
        assert status == 200
        if fmt == "xlsx":
            assert body[:2] == b"PK"
        else:
            assert (b"1234.5" in body) is (who == "project_manager"), body


async def test_bad_kind_format_or_filters_queue_nothing(
        fclient: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, fclient)
    pm = team.headers["project_manager"]
    project = str(team.project)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"kind": "nope", "format": "csv"}, 422, "kind"),
        ({"kind": "tasks", "format": "pdf"}, 422, "format"),
        ({"kind": "tasks", "format": "csv", "filters": {"status": "bogus"}}, 422, "status"),
        ({"kind": "tasks", "format": "csv", "filters": {"nope": "1"}}, 422, "nope"),
        ({"kind": "tasks", "format": "csv", "filters": {"limit": "5"}}, 422, "filters.limit"),
        ({"kind": "tasks", "format": "csv", "filters": {"sort": "nope"}}, 422, "sort"),
        ({"kind": "tasks", "format": "csv", "filters": {"name": ["a"]}}, 422, "filters"),
        ({"kind": "tasks", "format": "csv", "filters": {"status": "x" * 2000}}, 422, "status"),
        ({"kind": "tasks", "format": "csv", "extra": 1}, 422, "extra"),
        ({"kind": "project_members", "format": "csv"}, 422, "filters.id"),
        ({"kind": "project_members", "format": "csv", "filters": {"id": "x"}}, 404, ""),
        # A list the caller may not read answers as the list does.
        ({"kind": "tasks", "format": "csv", "filters": {"project_id": str(uuid.uuid4())}},
         404, ""),
    ]
    for body, expected, field in cases:
        status, problem = await send(fclient, "POST", EXPORTS, pm, body)
        assert status == expected, (body, problem)
        if field:
            assert any(field in e["field"] for e in problem["errors"]), (body, problem)
    status, problem = await send(fclient, "POST", EXPORTS, team.headers["stranger"], {
        "kind": "tasks", "format": "csv", "filters": {"project_id": project}})
    assert status == 404, problem
    assert await _jobs(world) == []
    assert await _exports_of(world, team.users["project_manager"]["id"]) == []
    # A path parameter is a filter by its name.
    status, job = await send(fclient, "POST", EXPORTS, pm, {
        "kind": "project_members", "format": "csv", "filters": {"id": project}})
    assert status == 202, job
    job = await _finished(fclient, job["id"], pm)
    assert job["status"] == "done" and job["rows"] == 4, job


async def test_at_most_two_jobs_per_user(slow: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, slow)
    await _tasks(world, team, 3)
    body = {"kind": "tasks", "format": "csv", "filters": {"project_id": str(team.project)}}
    pm = team.headers["project_manager"]
    ids = []
    for _ in range(2):
        status, job = await send(slow, "POST", EXPORTS, pm, body)
        assert status == 202, job
        ids.append(job["id"])
    response = await slow.post(EXPORTS, headers=pm, json=body)
    problem = await response.json()
    assert response.status == 429 and problem["code"] == "too_many_exports", problem
    assert int(response.headers["Retry-After"]) > 0
    assert len(await _jobs(world)) == 2
    # Another user is not held back by them.
    status, _ = await send(slow, "POST", EXPORTS, team.headers["admin"], body)
    assert status == 202
    response = await slow.get(f"{EXPORTS}/{ids[1]}/download", headers=pm)
    problem = await response.json()
    assert response.status == 409 and problem["code"] == "export_not_ready", problem
    # Once one is done, the user may ask again.
    await _finished(slow, ids[0], pm)
    await _finished(slow, ids[1], pm)
    status, _ = await send(slow, "POST", EXPORTS, pm, body)
    assert status == 202
    await slow.app[EXPORT_WORKER].settle()


async def test_progress_carries_the_total_from_the_first_event(
        slow: TestClient[Any, Any], world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The list is counted first, in the snapshot its pages are then read in: the total is
    on the job (GET) while it runs and in every event, constant, and rows added meanwhile
    are neither written nor counted (done == total at the end)."""
    team = await make_team(world, slow)
    await _tasks(world, team, 4)
    pm = team.headers["project_manager"]
    events: list[tuple[str, int, int | None]] = []

    async def pushed(job: Any, status: str, done: int, total: int | None) -> None:
        events.append((status, done, total))

    monkeypatch.setattr(slow.app[EXPORT_WORKER], "_emit", pushed)
    status, job = await send(slow, "POST", EXPORTS, pm, {
        "kind": "tasks", "format": "csv", "filters": {"project_id": str(team.project)}})
    assert status == 202 and job["total"] is None, job

    async def counted() -> dict[str, Any] | None:
        status, found = await send(slow, "GET", f"{EXPORTS}/{job['id']}", pm)
        assert status == 200, found
        return found if found["status"] == "running" and found["total"] is not None else None

    running = await eventually(counted, limit=10, interval=0.02)
    assert running["total"] == 4 and running["done"] < 4, running
    await _tasks(world, team, 3)  # after the snapshot: not in this file
    job = await _finished(slow, job["id"], pm)
    assert job["status"] == "done" and job["done"] == job["total"] == job["rows"] == 4, job
    status, body = await _download(slow, job["id"], pm)
    assert status == 200 and body.count(b"\r\n") == 5

    assert events[0] == ("running", 0, 4), events
    assert events[-1] == ("done", 4, 4), events
    assert all(total == 4 for _, _, total in events), events
    dones = [done for _, done, _ in events]
    assert dones == sorted(dones) and dones[-1] == 4, events


async def test_an_audit_list_counts_too(fclient: TestClient[Any, Any], world: World) -> None:
    """The audit trail lists through its own query, which counts as `fetch_page` does."""
    team = await make_team(world, fclient)
    await _tasks(world, team, 3)
    admin = team.headers["admin"]
    filters = {"table": "tasks", "project_id": str(team.project)}
    status, job = await send(fclient, "POST", EXPORTS, admin, {
        "kind": "audit_logs", "format": "csv", "filters": filters})
    assert status == 202, job
    job = await _finished(fclient, job["id"], admin)
    assert job["status"] == "done" and job["done"] == job["total"] == job["rows"], job
    assert job["rows"] >= 3, job


async def test_ended_jobs_are_deleted_with_their_files_after_their_time(
        fclient: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, fclient)
    await _tasks(world, team, 2)
    pm = team.headers["project_manager"]
    ids = []
    for _ in range(2):
        status, job = await send(fclient, "POST", EXPORTS, pm, {
            "kind": "tasks", "format": "csv", "filters": {"project_id": str(team.project)}})
        assert status == 202
        ids.append((await _finished(fclient, job["id"], pm))["id"])
    old, fresh = ids
    rows = {str(r["id"]): r for r in await _jobs(world)}
    storage = fclient.app[STORAGE]
    for job_id in ids:
        assert await storage.stat(rows[job_id]["object_key"]) is not None
    user = team.users["project_manager"]["id"]
    async with system_transaction(world.pool) as conn:
        await conn.execute("UPDATE export_jobs SET expires_at = now() - interval '1 second' "
                           "WHERE id = $1::uuid", old)
        # Failed jobs go too: one past its time, one that failed before `expires_at` was set
        # (`EXPORT_JOB_TTL` after it ended), one failed just now.
        failed = await conn.fetch(
            """INSERT INTO export_jobs (org_id, user_id, kind, format, status, error,
                                        finished_at, expires_at)
               VALUES ($1, $2, 'tasks', 'csv', 'failed', 'x', now() - interval '2 days',
                       now() - interval '1 day'),
                      ($1, $2, 'tasks', 'csv', 'failed', 'x', now() - interval '2 days', NULL),
                      ($1, $2, 'tasks', 'csv', 'failed', 'x', now(), now() + interval '1 day')
               RETURNING id""", team.org, user)
    audited = len(await _exports_of(world, user))
    # Past its time and not swept yet: 410, as documented.
    status, problem = await send(fclient, "GET", f"{EXPORTS}/{old}/download", pm)
    assert status == 410 and problem["code"] == "export_expired"

    # Two sweeps at once (two workers): each job deleted once, no error.
    worker = fclient.app[EXPORT_WORKER]
    assert sum(await asyncio.gather(worker.sweep(), worker.sweep())) == 3
    assert await worker.sweep() == 0
    left = {str(r["id"]) for r in await _jobs(world)}
    assert left == {fresh, str(failed[2]["id"])}
    assert await storage.stat(rows[old]["object_key"]) is None
    assert await storage.stat(rows[fresh]["object_key"]) is not None
    for path in (f"{EXPORTS}/{old}", f"{EXPORTS}/{old}/download"):
        status, _ = await send(fclient, "GET", path, pm)
        assert status == 404, path
    status, body = await _download(fclient, fresh, pm)
    assert status == 200 and body.count(b"\r\n") == 3
    # The audit rows stay (the download of the fresh one is one more).
    assert len(await _exports_of(world, user)) == audited + 1


async def test_a_synchronous_export_hands_over_to_a_job(
        aiohttp_client: Callable[..., Any], settings: Settings, tmp_path: Path,
        world: World) -> None:
    client = await files_client(aiohttp_client, settings,
                                StorageSettings(kind="file", root=tmp_path / "files"),
                                export_sync_max_rows=5)
    team = await make_team(world, client)
    await _tasks(world, team, 5)
    pm = team.headers["project_manager"]
    path = f"/api/v1/tasks?project_id={team.project}&format=csv"
    small = await client.get(path, headers=pm)  # at the limit: the file itself
    assert small.status == 200 and (await small.read()).count(b"\r\n") == 6
    # Asked for (RFC 7240), whatever the size: 202 with the job.
    response = await client.get(path, headers={**pm, "Prefer": "respond-async"})
    job = await response.json()
    assert response.status == 202 and response.headers["Preference-Applied"] == "respond-async"
    assert response.headers["Location"] == f"{EXPORTS}/{job['id']}"
    assert job["kind"] == "tasks" and job["filters"] == {"project_id": str(team.project)}
    await _finished(client, job["id"], pm)
    status, body = await _download(client, job["id"], pm)
    assert status == 200 and body == await small.read()
    # Over the limit: a job instead of the file.
    await _tasks(world, team, 1)
    response = await client.get(path + "&status=pending", headers=pm)
    job = await response.json()
    assert response.status == 202, job
    assert job["filters"] == {"project_id": str(team.project), "status": "pending"}
    job = await _finished(client, job["id"], pm)
    assert job["rows"] == 6
    # A refused list is refused as ever, before any job.
    status, _ = await send(client, "GET", path, team.headers["stranger"])
    assert status == 404
    assert len(await _jobs(world)) == 2


async def test_a_registered_kind_runs_as_its_requester(
        aiohttp_client: Callable[..., Any], settings: Settings, tmp_path: Path,
        world: World) -> None:
    """The interface another kind (a weekly PDF report) plugs into."""
    from aiohttp.test_utils import TestServer

    from server.app import create_app
    from server.errors import Invalid
    from server.exports.kinds import JobRun, Produced, register_kind
    from server.http import HANDLER_ARGS

    seen: list[Any] = []

    async def check(request: Any, filters: Any) -> dict[str, Any]:
        if set(filters) - {"week"}:
            raise Invalid("Unknown filter", errors=[{"field": "filters", "message": "week"}])
        return {"week": str(filters.get("week", "2026-W10"))}

    async def runner(job: JobRun) -> Produced:
        seen.append((job.who.user_id, job.actor.user_id, dict(job.filters)))
        await job.progress(1, 2)
        job.path.write_bytes(b"%PDF-1.7 report of " + job.filters["week"].encode())
        await job.progress(2, 2)
        return Produced(rows=7, media_type="application/pdf", file_name="weekly.pdf")

    app = create_app(settings.model_copy(update={
        "storage": StorageSettings(kind="file", root=tmp_path / "files")}))
    register_kind(app, "weekly_report", {"pdf"}, runner, check)
    server = TestServer(app)
    await server.start_server(**HANDLER_ARGS)
    client: TestClient[Any, Any] = await aiohttp_client(server)
    team = await make_team(world, client)
    pm = team.headers["project_manager"]
    status, problem = await send(client, "POST", EXPORTS, pm, {
        "kind": "weekly_report", "format": "pdf", "filters": {"x": 1}})
    assert status == 422, problem
    status, problem = await send(client, "POST", EXPORTS, pm, {
        "kind": "weekly_report", "format": "csv"})
    assert status == 422 and problem["errors"][0]["field"] == "format"
    status, job = await send(client, "POST", EXPORTS, pm, {
        "kind": "weekly_report", "format": "pdf"})
    assert status == 202 and job["filters"] == {"week": "2026-W10"}
    job = await _finished(client, job["id"], pm)
    assert job["status"] == "done" and job["rows"] == 7 and job["file_name"] == "weekly.pdf"
    assert job["done"] == job["total"] == 2, job  # its steps, not its rows
    user = team.users["project_manager"]["id"]
    assert seen == [(user, user, {"week": "2026-W10"})]
    response = await client.get(f"{EXPORTS}/{job['id']}/download", headers=pm)
    assert response.status == 200 and response.headers["Content-Type"] == "application/pdf"
    assert await response.read() == b"%PDF-1.7 report of 2026-W10"
    metrics = await (await client.get("/metrics")).text()
    assert "fpm_export_jobs_done_total 1.0" in metrics
    assert "fpm_export_jobs_running 0.0" in metrics
