"""The weekly project report as PDF: its text read back with PDFium (the project's figures,
costs for staff only), a chart drawn on the charts page (pixels of the chart colour in the
page rendered to PNG), a drawing thumbnail as an image object, A4 and Letter, page
numbers, the audit row, every bad parameter a 422, and a report nobody outside the
project can get (404).

The rendered pages are written to tests/artifacts/weekly-report-*.png to be looked at; with
FPM_UPDATE_SCREENSHOTS=1 the charts page is also written to docs/weekly-report.png."""

from __future__ import annotations

import datetime as dt
import io
import os
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
from aiohttp.test_utils import TestClient
from PIL import Image

from db.pool import system_transaction
from server.keys import STORAGE
from server.reports.render import ACCENT
from storage.keys import object_key, thumbnail_key
from tests.conftest import World
from tests.server.project_team import Team, make_team, send

Client = TestClient[Any, Any]
DOCS = Path(__file__).resolve().parents[2] / "docs"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def url(team: Team, **query: str) -> str:
    tail = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/api/v1/projects/{team.project}/reports/weekly" + (f"?{tail}" if tail else "")


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _fill(client: Client, world: World, team: Team) -> None:
    """Tasks in every state (two overdue), a budget, approved specs, a submitted shop
    drawing, an overdue RFI, and a drawing revision published today with a thumbnail."""
    users = team.users
    today = dt.date.today()
    async with system_transaction(world.pool) as conn:
        await conn.execute(
            "UPDATE projects SET name = 'Nişantaşı Ofis Katı', budget = 250000 WHERE id = $1",
            team.project)
        await conn.execute("UPDATE clients SET name = 'Koç Holding' WHERE id = $1",
                           users["client"]["client_id"])
        for i, status in enumerate(("pending", "pending", "in_progress", "review",
                                    "completed", "completed", "cancelled")):
            await conn.execute(
                """INSERT INTO tasks (org_id, project_id, name, status, assigned_to, due_date,
                                      completed_at)
                   VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $4 = 'completed' THEN now() END)""",
                team.org, team.project, f"Task {i}", status,
                users["designer"]["id"] if i < 2 else None,
                today - dt.timedelta(days=3) if i < 2 else None)
        for code, status, cost in (("MS-01", "approved", Decimal("12345.67")),
                                   ("MS-02", "pending_approval", Decimal("999.00"))):
            await conn.execute(
                """INSERT INTO material_specs (org_id, project_id, code, description, status,
                                               total_cost) VALUES ($1, $2, $3, $4, $5, $6)""",
                team.org, team.project, code, f"Oak veneer {code}", status, cost)
        await conn.execute(
            """INSERT INTO shop_drawings (org_id, project_id, drawing_number, title, status,
                                          submitted_at)
               VALUES ($1, $2, 'SD-042', 'Reception desk millwork', 'submitted', now())""",
            team.org, team.project)
        await conn.execute(
            """INSERT INTO rfis (org_id, project_id, seq, number, subject, question, status,
                                 due_on, distribution)
               VALUES ($1, $2, 1, 'RFI-001', 'Ceiling height', 'Which?', 'open', $3, $4)""",
            team.org, team.project, today - dt.timedelta(days=2),
            [users["coordinator"]["id"]])
        key = object_key(team.org, team.project)
        attachment = await conn.fetchval(
            """INSERT INTO attachments (org_id, project_id, entity_type, entity_id, file_name,
                                        mime_type, size, storage_key, status, thumbnail)
               VALUES ($1, $2, 'project', $2, 'A-101.pdf', 'application/pdf', 10, $3,
                       'ready', 'ready') RETURNING id""", team.org, team.project, key)
        drawing = await conn.fetchval(
            """INSERT INTO drawings (org_id, project_id, number, title, discipline)
               VALUES ($1, $2, 'A-101', 'Ground floor plan', 'A') RETURNING id""",
            team.org, team.project)
        revision = await conn.fetchval(
            """INSERT INTO drawing_revisions (org_id, project_id, drawing_id, revision, status,
                                              attachment_id, published_at, is_current)
               VALUES ($1, $2, $3, 'C01', 'A1', $4, now(), true) RETURNING id""",
            team.org, team.project, drawing, attachment)
        await conn.execute("UPDATE drawings SET current_revision_id = $1 WHERE id = $2",
                           revision, drawing)
    thumb = io.BytesIO()
    Image.new("RGB", (400, 283), (220, 38, 38)).save(thumb, "WEBP")
    await client.app[STORAGE].put_stream(thumbnail_key(key), _chunks(thumb.getvalue()))
    # Progress moves twice through the API: the audit log has both values.
    for progress in (20, 35):
        status, project = await send(client, "GET", f"/api/v1/projects/{team.project}",
                                     team.headers["project_manager"])
        status, _ = await send(client, "PATCH", f"/api/v1/projects/{team.project}",
                               team.headers["project_manager"], {"progress": progress},
                               If_Match=f'"{project["version"]}"')
        assert status == 200


async def _pdf(client: Client, headers: dict[str, str], path: str) -> bytes:
    response = await client.get(path, headers=headers)
    body = await response.read()
    assert response.status == 200, body[:500]
    assert response.content_type == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    return body


def _pages(pdf: bytes) -> list[str]:
    document = pdfium.PdfDocument(pdf)
    return [page.get_textpage().get_text_range() for page in document]


def _png(pdf: bytes, index: int, name: str) -> Image.Image:
    page = pdfium.PdfDocument(pdf)[index]
    image: Image.Image = page.render(scale=1.5).to_pil().convert("RGB")
    ARTIFACTS.mkdir(exist_ok=True)
    image.save(ARTIFACTS / name)
    return image


def _colour_pixels(image: Image.Image, colour: tuple[int, int, int]) -> int:
    histogram = image.getcolors(maxcolors=1 << 20) or []
    return sum(n for n, rgb in histogram
               if all(abs(a - b) <= 6 for a, b in zip(rgb, colour, strict=True)))


async def test_the_report_holds_the_projects_figures_and_charts(client: Client,
                                                                world: World) -> None:
    team = await make_team(world, client)
    await _fill(client, world, team)
    pdf = await _pdf(client, team.headers["project_manager"], url(team))
    assert pdf.startswith(b"%PDF-")
    pages = _pages(pdf)
    text = "\n".join(pages)
    for expected in ("Weekly project report", "Nişantaşı Ofis Katı", "Koç Holding",
                     "Progress", "35%", "Budget", "250,000.00", "Committed material cost",
                     "12,345.67", "Budget remaining", "237,654.33", "Tasks by status",
                     "in progress", "Progress over the period", "By status", "Shop drawings",
                     "Material specs", "Drawing register", "Overdue items by ball in court",
                     "Designer Member", "Coordinator Member", "Submittal log", "SD-042",
                     "Reception desk millwork", "MS-01", "Drawings revised in the period",
                     "A-101", "Ground floor plan", "C01"):
        assert expected in text, expected
    assert all(f"Page {i + 1} of {len(pages)}" in page for i, page in enumerate(pages))
    assert all(team.project.hex not in page for page in pages)
    # A chart is drawn: the charts page rendered to PNG has bars and lines of the chart
    # colour; the drawing's thumbnail is an image on its page.
    charts = next(i for i, page in enumerate(pages) if "Progress over the period" in page)
    image = _png(pdf, charts, "weekly-report-charts.png")
    assert _colour_pixels(image, (ACCENT.red * 255, ACCENT.green * 255, ACCENT.blue * 255)) \
        > 500  # type: ignore[arg-type]
    if os.environ.get("FPM_UPDATE_SCREENSHOTS") == "1":
        image.save(DOCS / "weekly-report.png", optimize=True)
    for i in range(len(pages)):
        _png(pdf, i, f"weekly-report-{i + 1}.png")
    drawings = next(i for i, page in enumerate(pages) if "Drawings revised" in page)
    document = pdfium.PdfDocument(pdf)
    images = list(document[drawings].get_objects(filter=[pdfium.raw.FPDF_PAGEOBJ_IMAGE]))
    assert images
    assert _colour_pixels(_png(pdf, drawings, "weekly-report-drawings.png"),
                          (220, 38, 38)) > 1000
    # A4 by default, Letter when asked.
    assert [round(v) for v in document[0].get_size()] == [595, 842]
    letter = pdfium.PdfDocument(await _pdf(client, team.headers["designer"],
                                           url(team, paper="letter")))
    assert [round(v) for v in letter[0].get_size()] == [612, 792]


async def test_a_client_users_report_has_no_internal_costs(client: Client,
                                                           world: World) -> None:
    team = await make_team(world, client)
    await _fill(client, world, team)
    text = "\n".join(_pages(await _pdf(client, team.headers["client"], url(team))))
    assert "Nişantaşı Ofis Katı" in text and "Progress" in text and "35%" in text
    for cost in ("Budget", "250,000.00", "Committed", "12,345.67", "237,654.33",
                 "Scope value", "999.00"):
        assert cost not in text, cost


async def test_the_period_and_the_audit_row(client: Client, world: World) -> None:
    team = await make_team(world, client)
    await _fill(client, world, team)
    hostile = 'Kat <b>5</b> & "A" </para><font size=90>'  # markup is text, never obeyed
    async with system_transaction(world.pool) as conn:
        await conn.execute("UPDATE projects SET name = $1 WHERE id = $2", hostile, team.project)
    start = dt.date.today() - dt.timedelta(days=40)
    end = start + dt.timedelta(days=13)  # before today: nothing was published then
    pdf = await _pdf(client, team.headers["coordinator"],
                     url(team, **{"from": start.isoformat(), "to": end.isoformat()}))
    text = "\n".join(_pages(pdf))
    assert hostile in text.replace("\r", "").replace("\n", " ")
    assert f"{end.day} {end:%b %Y}" in text
    drawings = text[text.index("Drawings revised in the period"):]
    assert "A-101" not in drawings and "None." in drawings
    async with system_transaction(world.pool) as conn:
        row = await conn.fetchrow(
            "SELECT * FROM audit_logs WHERE action = 'export' AND project_id = $1 "
            "ORDER BY id DESC LIMIT 1", team.project)
    assert row["user_id"] == team.users["coordinator"]["id"]
    assert row["details"] == {"entity": "weekly_report", "format": "pdf", "rows": 3,
                       "bytes": len(pdf), "complete": True,
                       "filters": {"id": str(team.project), "paper": "a4",
                                   "from": start.isoformat(), "to": end.isoformat()}}


async def test_nobody_outside_the_project_gets_its_report(client: Client,
                                                          world: World) -> None:
    team = await make_team(world, client)
    for who in ("outsider", "stranger"):
        status, problem = await send(client, "GET", url(team), team.headers[who])
        assert status == 404 and problem["code"] == "not_found", (who, problem)
    status, _ = await send(client, "GET", f"/api/v1/projects/{uuid.uuid4()}/reports/weekly",
                           team.headers["admin"])
    assert status == 404
    status, _ = await send(client, "GET", url(team), {})
    assert status == 401


async def test_every_bad_parameter_is_a_422(client: Client, world: World) -> None:
    team = await make_team(world, client)
    headers = team.headers["project_manager"]
    for query, field in (({"paper": "a3"}, "paper"),
                         ({"from": "2026-13-01"}, "from"),
                         ({"from": "12345"}, "from"),
                         ({"to": "yesterday"}, "to"),
                         ({"from": "2026-03-10", "to": "2026-03-01"}, "from"),
                         ({"from": "2026-01-01", "to": "2026-06-01"}, "to"),
                         ({"from": "0001-01-01"}, "from"),
                         ({"to": "9999-12-31"}, "to"),
                         ({"format": "pdf"}, "format")):
        status, problem = await send(client, "GET", url(team, **query), headers)
        assert status == 422, (query, problem)
        assert field in {e["field"] for e in problem["errors"]}, (query, problem)
    status, problem = await send(client, "GET", url(team).replace(str(team.project), "nope"),
                                 headers)
    assert status in (404, 422), problem


def _image(size: tuple[int, int], colour: tuple[int, int, int], kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, kind)
    return out.getvalue()


async def test_the_firms_logo_is_checked_and_printed(client: Client, world: World) -> None:
    team = await make_team(world, client)
    logo_url = "/api/v1/organization/logo"
    admin = team.headers["admin"]
    png = _image((300, 90), (22, 101, 52), "PNG")

    async def put(headers: dict[str, str], body: bytes, media: str) -> tuple[int, Any]:
        response = await client.put(logo_url, data=body,
                                    headers={**headers, "Content-Type": media})
        return response.status, await response.json()

    status, problem = await put(team.headers["project_manager"], png, "image/png")
    assert status == 403, problem
    for body, media, expected in ((png, "image/gif", 422), (png, "image/jpeg", 422),
                                  (b"\x89PNG\r\n\x1a\n" + b"x" * 100, "image/png", 422),
                                  (_image((4097, 2), (0, 0, 0), "PNG"), "image/png", 422),
                                  (os.urandom(300 * 1024), "image/png", 413)):
        status, problem = await put(admin, body, media)
        assert status == expected, (media, problem)
    status, _ = await send(client, "GET", logo_url, team.headers["designer"])
    assert status == 404
    status, stored = await put(admin, png, "image/png")
    assert status == 200 and stored["width"] == 300 and stored["size"] == len(png)
    response = await client.get(logo_url, headers=team.headers["client"])
    assert response.status == 200 and await response.read() == png
    assert response.content_type == "image/png"
    status, _ = await send(client, "GET", logo_url, team.headers["stranger"])
    assert status == 404  # another organisation's logo is not theirs to read
    async with system_transaction(world.pool) as conn:
        details = await conn.fetchval(
            "SELECT details FROM audit_logs WHERE action = 'organization_logo' AND org_id = $1",
            team.org)
        firm = await conn.fetchval("SELECT name FROM organizations WHERE id = $1", team.org)
    assert details == {"change": "set", "media_type": "image/png", "bytes": len(png),
                       "sha256": stored["sha256"]}

    pdf = await _pdf(client, team.headers["project_manager"], url(team))
    text = _pages(pdf)[0]
    assert firm in text  # the firm's name (organizations.name)
    cover = pdfium.PdfDocument(pdf)[0]
    assert list(cover.get_objects(filter=[pdfium.raw.FPDF_PAGEOBJ_IMAGE]))
    assert _colour_pixels(_png(pdf, 0, "weekly-report-cover.png"), (22, 101, 52)) > 2000

    status, _ = await send(client, "DELETE", logo_url, team.headers["designer"])
    assert status == 403
    status, _ = await send(client, "DELETE", logo_url, admin)
    assert status == 204
    status, _ = await send(client, "GET", logo_url, admin)
    assert status == 404
