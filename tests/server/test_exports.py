"""Every list as CSV and XLSX: the whole result with the list's own filters, read back and
compared with the JSON pages; formulas neutralised; client users without internal costs;
a foreign user's export refused like the list; one `export` audit row per file."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import re
import uuid
from typing import Any

import openpyxl
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from db.pool import system_transaction
from server.exports.marks import CSV, XLSX, export_entity
from server.exports.route import exportable
from server.openapi import JSON, build_document, doc, doc_of
from server.rest import PageParams
from server.routes.tasks import TaskOut
from tests.conftest import World
from tests.server.project_team import Team, make_team, send
from tests.server.test_openapi import Widget, declared_routes

TASKS = "/api/v1/tasks"
NASTY = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tTAB", "\rCR", 'comma, "quote"\nline']


async def _tasks(world: World, team: Team, count: int) -> None:
    """`count` tasks written by SQL (not the API): the formula-like names first, dates,
    hours and tags on some."""
    async with system_transaction(world.pool) as conn:
        await conn.execute(
            """INSERT INTO tasks (org_id, project_id, name, description, due_date,
                                  estimated_hours, tags, created_at)
               SELECT $1, $2, coalesce(($3::text[])[g], 'Task ' || g),
                      CASE WHEN g % 3 = 0 THEN 'Line one' || chr(10) || 'two' END,
                      CASE WHEN g % 2 = 0 THEN date '2026-03-01' + g END,
                      CASE WHEN g % 2 = 1 THEN g * 1.25 END,
                      CASE WHEN g % 5 = 0 THEN ARRAY['a', 'b,c'] ELSE '{}' END,
                      now() - g * interval '1 second'
               FROM generate_series(1, $4) g""",
            team.org, team.project, NASTY, count)


async def _json_list(client: TestClient[Any, Any], path: str, headers: dict[str, str],
                     limit: int = 200) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        sep = "&" if "?" in path else "?"
        url = f"{path}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        status, page = await send(client, "GET", url, headers)
        assert status == 200, page
        rows += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            return rows


def _expected_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


async def _export_rows(client: TestClient[Any, Any], path: str, headers: dict[str, str]
                       ) -> tuple[list[str], list[list[str]], bytes]:
    response = await client.get(path, headers=headers)
    assert response.status == 200, await response.text()
    assert response.content_type == CSV
    raw = await response.read()
    reader = csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
    header, *rows = list(reader)
    return header, rows, raw


async def test_csv_is_the_whole_json_list(client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    await _tasks(world, team, 450)  # three pages of the largest size
    pm = team.headers["project_manager"]
    query = f"{TASKS}?project_id={team.project}&sort=name"
    listed = await _json_list(client, query, pm)
    header, rows, raw = await _export_rows(client, query + "&format=csv", pm)
    assert len(rows) == len(listed) == 450
    assert header == list(TaskOut.model_fields)  # the answer model's fields, in its order
    assert set(header) == set(listed[0])  # ... which are the list's
    assert raw.count(b"\r\n") >= len(rows) + 1 and not raw.startswith(b"\xef\xbb\xbf")
    for row, item in zip(rows, listed, strict=True):
        for name, cell in zip(header, row, strict=True):
            expected = _expected_text(item[name])
            if name in ("name", "description") and expected.startswith(tuple("=+-@\t\r")):
                expected = "'" + expected
            assert cell == expected, (name, cell, item[name])
    names = [r[header.index("name")] for r in rows]
    assert {"'=1+1", "'+SUM(A1)", "'-2+3", "'@cmd", "'\tTAB", "'\rCR",
            'comma, "quote"\nline'} <= set(names)
    # The same filters: only the tasks the list's filter keeps, and Accept works too.
    status_only = f"{TASKS}?project_id={team.project}&status=completed"
    response = await client.get(status_only, headers={**pm, "Accept": CSV})
    assert response.content_type == CSV
    assert (await response.text()).count("\r\n") == 1  # the header only
    response = await client.get(status_only + "&bom=1&format=csv", headers=pm)
    assert (await response.read()).startswith(b"\xef\xbb\xbfid,")
    assert response.headers["X-Content-Type-Options"] == "nosniff"  # the usual headers
    assert response.headers["X-Frame-Options"] == "DENY" and response.headers["X-Request-ID"]
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="tasks-') and disposition.endswith(
        '.csv"')
    # format=json (or no choice) is the list as before.
    status, page = await send(client, "GET", query + "&format=json&limit=2", pm)
    assert status == 200 and page["data"] == listed[:2]


def _ooxml_text(value: Any) -> Any:
    """A string as Excel shows it: OOXML escapes control characters as `_x000D_`, which
    openpyxl leaves as they are."""
    if not isinstance(value, str):
        return value
    return re.sub(r"_x([0-9A-F]{4})_", lambda m: chr(int(m.group(1), 16)), value)


async def test_xlsx_has_typed_cells_a_frozen_header_and_filters(
        client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    await _tasks(world, team, 250)
    pm = team.headers["project_manager"]
    query = f"{TASKS}?project_id={team.project}&sort=name"
    listed = await _json_list(client, query, pm)
    response = await client.get(query + "&format=xlsx", headers=pm)
    assert response.status == 200 and response.content_type == XLSX
    assert response.headers["Content-Disposition"].endswith('.xlsx"')
    book = openpyxl.load_workbook(io.BytesIO(await response.read()))
    sheet = book.active
    assert sheet is not None
    assert sheet.freeze_panes == "A2"
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    assert header == list(TaskOut.model_fields)
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(header)).column_letter}251"
    assert len(rows) == 251
    due, hours, created = (header.index(n) for n in ("due_date", "estimated_hours",
                                                     "created_at"))
    for row, item in zip(rows[1:], listed, strict=True):
        assert _ooxml_text(row[header.index("name")]) == item["name"]  # strings stay strings
        assert row[header.index("id")] == item["id"]
        assert row[header.index("progress")] == item["progress"]
        if item["due_date"] is None:
            assert row[due] is None
        else:
            assert row[due] == dt.datetime.fromisoformat(item["due_date"])
        if item["estimated_hours"] is not None:
            assert row[hours] == float(item["estimated_hours"])
        instant = dt.datetime.fromisoformat(item["created_at"]).astimezone(dt.UTC)
        assert abs(row[created] - instant.replace(tzinfo=None)) < dt.timedelta(seconds=1)
    cells = sheet[2]
    assert cells[due].number_format == "yyyy-mm-dd" or cells[due].value is None
    money = next(r[hours] for r in sheet.iter_rows(min_row=2) if r[hours].value is not None)
    assert money.number_format == "0.00" and money.data_type == "n"
    formula = next(r[header.index("name")] for r in sheet.iter_rows(min_row=2)
                   if r[header.index("name")].value == "=1+1")
    assert formula.data_type == "s"  # a string cell, never a formula


async def _priced(client: TestClient[Any, Any], team: Team) -> None:
    pm = team.headers["project_manager"]
    status, group = await send(client, "POST", "/api/v1/scope-groups", pm,
                               {"project_id": str(team.project), "name": "Millwork"})
    assert status == 201
    status, _ = await send(client, "POST", "/api/v1/scope-items", pm, {
        "project_id": str(team.project), "scope_group_id": group["id"], "name": "Desk",
        "quantity": "2", "unit": "pcs", "unit_price": "1234.50"})
    assert status == 201
    status, spec = await send(client, "POST", "/api/v1/material-specs", pm, {
        "project_id": str(team.project), "description": "Oak veneer", "quantity": "3",
        "unit_cost": "99.99"})
    assert status == 201, spec
    for action in ("submit", "approve"):  # client users see approved specs
        status, spec = await send(client, "POST",
                                  f"/api/v1/material-specs/{spec['id']}/transitions",
                                  pm, {"action": action})
        assert status == 200, spec


async def test_a_client_users_export_has_no_internal_costs(
        client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    await _priced(client, team)
    for path, costs in (("/api/v1/scope-items", {"unit_price", "total_price"}),
                        ("/api/v1/material-specs", {"unit_cost", "total_cost"})):
        query = f"{path}?project_id={team.project}&format=csv"
        header, rows, raw = await _export_rows(client, query, team.headers["client"])
        assert len(rows) == 1 and not costs & set(header), header
        assert b"1234.5" not in raw and b"99.99" not in raw
        header, rows, _ = await _export_rows(client, query, team.headers["project_manager"])
        assert costs <= set(header) and len(rows) == 1
        response = await client.get(query.replace("csv", "xlsx"),
                                    headers=team.headers["client"])
        sheet = openpyxl.load_workbook(io.BytesIO(await response.read())).active
        assert sheet is not None
        assert not costs & {c.value for c in sheet[1]}


async def test_a_foreign_users_export_is_refused_like_the_list(
        client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    await _tasks(world, team, 3)
    for who in ("stranger", "outsider"):
        for fmt in ("csv", "xlsx"):
            query = f"{TASKS}?project_id={team.project}&format={fmt}"
            status, problem = await send(client, "GET", query, team.headers[who])
            listed, _ = await send(client, "GET", query.split("&format")[0], team.headers[who])
            assert status == listed == 404, problem
    members = f"/api/v1/projects/{team.project}/members?format=csv"
    status, _ = await send(client, "GET", members, team.headers["stranger"])
    assert status == 404
    _, rows, _ = await _export_rows(client, members, team.headers["project_manager"])
    assert len(rows) == 4  # the project's audit row names the project of the path
    (row,) = await _exports_of(world, team.users["project_manager"]["id"])
    assert row["project_id"] == team.project and row["details"]["entity"] == "project_members"
    # Client users see only their projects' rows: an org-wide export has none of another's.
    status, problem = await send(client, "GET", f"{TASKS}?format=pdf", team.headers["admin"])
    assert status == 422 and problem["errors"][0]["field"] == "format"
    status, problem = await send(client, "GET", f"{TASKS}?format=csv&bom=maybe",
                                 team.headers["admin"])
    assert status == 422 and problem["errors"][0]["field"] == "bom"
    # An export ignores limit and cursor, but they must still be what the document says.
    for bad in ("limit=", "limit=0", "cursor=-1.0", "sort=nope"):
        status, problem = await send(client, "GET", f"{TASKS}?format=xlsx&{bad}",
                                     team.headers["admin"])
        assert status == 422, (bad, problem)


async def _exports_of(world: World, user_id: uuid.UUID) -> list[dict[str, Any]]:
    async with system_transaction(world.pool) as conn:
        rows = await conn.fetch("SELECT * FROM audit_logs WHERE action = 'export' "
                                "AND user_id = $1 ORDER BY id", user_id)
    return [dict(r) for r in rows]


async def test_each_export_writes_one_audit_row(client: TestClient[Any, Any],
                                                world: World) -> None:
    team = await make_team(world, client)
    await _tasks(world, team, 230)
    pm = team.headers["project_manager"]
    user = team.users["project_manager"]["id"]
    query = f"{TASKS}?project_id={team.project}&status=pending"
    _, _, raw = await _export_rows(client, query + "&format=csv", pm)
    (row,) = await _exports_of(world, user)
    assert row["project_id"] == team.project and row["org_id"] == team.org
    assert row["details"] == {
        "entity": "tasks", "format": "csv", "rows": 230, "bytes": len(raw), "complete": True,
        "filters": {"project_id": str(team.project), "status": "pending"}}
    response = await client.get(query + "&format=xlsx", headers=pm)
    size = len(await response.read())
    rows_after = await _exports_of(world, user)
    assert len(rows_after) == 2
    assert (rows_after[1]["details"]["format"], rows_after[1]["details"]["rows"],
            rows_after[1]["details"]["bytes"]) == ("xlsx", 230, size)
    # A refused export, a HEAD request and the JSON list write nothing.
    response = await client.head(query + "&format=csv", headers=pm)
    assert response.status == 200 and response.content_type == CSV
    await send(client, "GET", f"{TASKS}?project_id={uuid.uuid4()}&format=csv", pm)
    await send(client, "GET", query, pm)
    assert len(await _exports_of(world, user)) == 2


def test_the_document_offers_the_files(app: web.Application) -> None:
    operation = build_document(app)["paths"][TASKS]["get"]
    assert set(operation["responses"]["200"]["content"]) == {JSON, CSV, XLSX}
    params = {p["name"]: p for p in operation["parameters"]}
    assert params["format"]["schema"]["enum"] == ["json", "csv", "xlsx"]
    assert params["bom"]["schema"] == {"type": "boolean"}


def unexported(app: web.Application) -> list[str]:
    """The GET routes answering a page (`@doc(many=True)`: `{data, next_cursor}`) that
    offer no file."""
    return [path for route, path in declared_routes(app)
            if route.method == "GET" and doc_of(route.handler).many
            and export_entity(route.handler) is None]


def test_every_list_route_exports(app: web.Application) -> None:
    """A new list without `@exportable` fails here."""
    lists = [r for r, _ in declared_routes(app) if r.method == "GET" and doc_of(r.handler).many]
    assert len(lists) >= 15
    assert not unexported(app), "lists without @exportable"


def test_a_list_without_export_is_caught() -> None:
    routes = web.RouteTableDef()

    @routes.get("/api/v1/widgets")
    @doc(summary="List widgets", query=PageParams, response=Widget, many=True)
    async def list_widgets(request: web.Request) -> web.Response:
        return web.json_response({"data": [], "next_cursor": None})

    @routes.get("/api/v1/gizmos")
    @exportable("gizmos")
    @doc(summary="List gizmos", query=PageParams, response=Widget, many=True)
    async def list_gizmos(request: web.Request) -> web.Response:
        return web.json_response({"data": [], "next_cursor": None})

    app = web.Application()
    app.add_routes(routes)
    assert unexported(app) == ["/api/v1/widgets"]


def test_only_a_documented_list_can_export() -> None:
    with pytest.raises(TypeError):
        @exportable("widgets")
        @doc(summary="One widget", response=Widget)
        async def get_widget(request: web.Request) -> web.Response:
            raise AssertionError


async def test_a_download_cut_short_is_audited_as_incomplete(
        client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    async with system_transaction(world.pool, bulk=True) as conn:
        await conn.execute(
            """INSERT INTO tasks (org_id, project_id, name, description)
               SELECT $1, $2, 'Task ' || g, repeat('x', 500) FROM generate_series(1, 20000) g""",
            team.org, team.project, timeout=120)
    user = team.users["project_manager"]["id"]
    response = await client.get(f"{TASKS}?project_id={team.project}&format=csv",
                                headers=team.headers["project_manager"])
    assert response.status == 200
    await response.content.readexactly(64 * 1024)
    response.close()  # the client goes away after the first 64 KiB
    for _ in range(200):
        found = await _exports_of(world, user)
        if found:
            break
        await asyncio.sleep(0.05)
    (row,) = found
    assert row["details"]["complete"] is False
    assert 0 < row["details"]["rows"] < 20000 and row["details"]["bytes"] >= 64 * 1024


async def test_every_list_exports_its_records(client: TestClient[Any, Any],
                                              world: World) -> None:
    """Each list's file (those needing no record id in the path, plus members): the header
    is its answer model's fields, the rows as many as the JSON list's."""
    team = await make_team(world, client)
    await _priced(client, team)
    await _tasks(world, team, 3)
    admin = team.headers["admin"]
    paths = [p for r, p in declared_routes(client.app)
             if r.method == "GET" and export_entity(r.handler) is not None and "{" not in p]
    paths.append(f"/api/v1/projects/{team.project}/members")
    task = (await _json_list(client, TASKS, admin))[0]["id"]
    status, _ = await send(client, "POST", "/api/v1/comments", admin, {
        "entity_type": "task", "entity_id": task, "body": "=HYPERLINK(\"x\")"})
    assert status == 201, _
    extra = {"/api/v1/search": "?q=oak",
             "/api/v1/comments": f"?entity_type=task&entity_id={task}",
             "/api/v1/attachments": f"?entity_type=task&entity_id={task}",
             "/api/v1/review-templates": f"?project_id={team.project}",
             "/api/v1/reviews": f"?entity_type=shop_drawing&entity_id={team.project}",
             "/api/v1/rfis": f"?project_id={team.project}",
             "/api/v1/site-diaries": f"?project_id={team.project}",
             "/api/v1/punch-items": f"?project_id={team.project}"}
    status, _ = await send(client, "POST", "/api/v1/punch-items", admin, {
        "project_id": str(team.project), "title": "=1+1 scratched leaf"})
    assert status == 201, _
    filled: list[str] = []
    for path in paths:
        url = path + extra.get(path, "")
        listed = await _json_list(client, url, admin, 50 if "search" in path else 200)
        sep = "&" if "?" in url else "?"
        header, rows, _ = await _export_rows(client, f"{url}{sep}format=csv", admin)
        assert len(rows) == len(listed), path
        if listed:
            assert set(header) == set(listed[0]), path
            filled.append(path)
    assert len(paths) >= 14 and len(filled) >= 11, (paths, filled)
