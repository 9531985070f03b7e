"""The legacy import on small exports written here, one quirk each, so the importer does not
depend on the exact reference files; plus newer exports, partial exports and the CLI."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from cli.main import main
from importer import import_legacy
from importer.report import Report
from tests.conftest import World

PROJ = "proj_1749633037542_723_1"


def export() -> dict[str, list[dict[str, Any]]]:
    return {
        "clients": [
            {"id": 1, "companyName": "Acme Interiors", "status": "prospect",
             "contractValue": "125,000.50", "taxNumber": "123"},
            {"id": 1, "companyName": "Acme again"},
        ],
        "teamMembers": [
            {"id": 1, "firstName": "Ada", "lastName": "Lead", "email": "ada@acme.test",
             "role": "super_admin"},
            {"id": 2, "firstName": "Bo", "lastName": "Senior", "email": "bo@acme.test",
             "role": "senior", "position": "Site Chief", "hourlyRate": 90},
            {"id": 3, "firstName": "Cy", "lastName": "Junior", "email": "CLASH@other.test",
             "role": "junior"},
            {"id": 4, "fullName": "Di Manager", "email": "di@acme.test", "role": "team_lead"},
        ],
        "projects": [
            {"id": 10, "name": "Levent Branch", "type": "fit-out", "status": "on-tender",
             "clientId": "1", "projectManager": 4, "teamMembers": [4, 3], "budget": "1000"},
            {"id": PROJ, "name": "Old Project", "type": "general-contractor", "client": "",
             "status": "active"},
        ],
        "scopeItems": [
            {"id": "S1", "projectId": 10, "description": "Desk", "quantity": "2",
             "unitPrice": "10.50", "unit": "EA", "group": "millwork", "status": "in-progress",
             "totalPrice": 21},
            {"id": "S2", "projectId": PROJ, "description": "Wall", "quantity": 3,
             "unitPrice": 5, "unit": "units", "group": "construction",
             "dependencies": ["S1", "S9"]},
            {"id": "S3", "projectId": 99, "description": "Orphan"},
        ],
        "tasks": [
            {"id": 100, "projectId": 10, "name": "Done", "status": "completed", "progress": 0,
             "assignedTo": 2, "scopeItemIds": ["S1"], "updatedAt": "2025-06-19T12:03:43.272Z"},
            {"id": 101, "projectId": 10, "name": "Active", "status": "active",
             "scopeItemIds": ["S2", "S404"]},
            {"id": 102, "projectId": 10, "name": "Wip", "status": "in-progress",
             "completedAt": "2025-01-01"},
            {"id": 103, "projectId": 77, "name": "Lost"},
        ],
        "shopDrawings": [
            {"id": "D1", "projectId": 10, "drawingNumber": "AC-1", "fileName": "Desk_Rev_B.pdf",
             "version": "Rev B", "status": "revision_required", "uploadedBy": "Someone Else",
             "uploadedById": 2, "fileSize": 1.5, "scopeItemIds": ["S1"],
             "uploadDate": "2025-02-01T10:00:00Z",
             "revisionHistory": [
                 {"version": "Rev A", "date": "2025-01-01T00:00:00Z",
                  "status": "revision_required", "comment": "fix the heights"},
                 {"version": "Rev B", "date": "2025-02-01T10:00:00Z",
                  "status": "revision_required", "comment": "again"}]},
            {"id": "D2", "projectId": 10, "drawingNumber": "AC-1", "status": "pending",
             "version": "Rev A"},
        ],
        "materialSpecifications": [
            {"id": "M1", "itemId": "M1", "projectId": 10, "description": "Oak veneer",
             "unitPrice": 12.5, "leadTime": 2, "leadTimeUnit": "weeks", "status": "approved",
             "approvedById": 1, "approvedBy": "Ada Lead", "specifications": {"grade": "A"},
             "costBreakdown": {"total": 12.5}, "hardware": "hinges", "scopeItemIds": ["S1"],
             "shopDrawingIds": ["D1"]},
        ],
    }


def write(directory: Path, data: dict[str, list[dict[str, Any]]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for stem, records in data.items():
        (directory / f"{stem}.json").write_text(json.dumps(records), encoding="utf-8")
    return directory


async def setup(world: World) -> dict[str, Any]:
    other = await world.org("other-firm")
    await world.user(other, "designer", email="clash@other.test")
    org = await world.org("acme")
    return await world.user(org, "admin", email="Ada@acme.test")


def has(report: Report, file: str, record: str, action: str, text: str) -> bool:
    return any(text in i.detail for i in report.find(file, record, action))


async def test_each_quirk_is_fixed_or_reported(
    pool: asyncpg.Pool, world: World, tmp_path: Path,
) -> None:
    admin = await setup(world)
    report = await import_legacy(pool, write(tmp_path / "x", export()), org_slug="acme")
    assert report.balanced
    assert report.files["clients"].skipped == 1 and report.files["teamMembers"].skipped == 1
    assert has(report, "teamMembers", "3", "skipped", "another organisation")
    assert has(report, "teamMembers", "1", "warning", "linked by e-mail")
    assert has(report, "teamMembers", "4", "fixed", "made project_manager")
    assert has(report, "projects", "10", "unlinked", "team member 3")
    assert has(report, "projects", PROJ, "unlinked", "empty client ('')")
    assert has(report, "scopeItems", "S2", "unlinked", "S1 belongs to another project")
    assert has(report, "scopeItems", "S2", "unlinked", "S9 does not exist")
    assert report.files["scopeItems"].skipped == 1 and report.files["tasks"].skipped == 1
    assert has(report, "tasks", "100", "added", "not a member")
    assert has(report, "tasks", "101", "unlinked", "S404 is neither")
    assert has(report, "tasks", "101", "unlinked", "S2 belongs to project " + PROJ)
    assert has(report, "tasks", "102", "fixed", "completedAt cleared")
    assert has(report, "shopDrawings", "D1", "warning", "'Someone Else' does not match")
    assert has(report, "shopDrawings", "D2", "fixed", "stored as AC-1-D2")
    assert has(report, "materialSpecifications", "M1", "warning", "differs from S1's 10.50")
    async with pool.acquire() as conn:
        ada = await conn.fetchrow("SELECT * FROM users WHERE id = $1", admin["id"])
        assert (ada["legacy_id"], ada["role"], ada["status"]) == ("1", "admin", "active")
        users = {r["legacy_id"]: r for r in await conn.fetch("SELECT * FROM users")}
        assert users["2"]["role"] == "coordinator" and users["2"]["status"] == "invited"
        assert (users["4"]["first_name"], users["4"]["last_name"]) == ("Di", "Manager")
        assert "3" not in users
        client = await conn.fetchrow("SELECT * FROM clients")
        assert str(client["contract_value"]) == "125000.50" and client["status"] == "prospect"
        assert "Tax number: 123" in client["notes"]
        project = await conn.fetchrow("SELECT * FROM projects WHERE legacy_id = '10'")
        assert (project["type"], project["status"], project["client_id"]) == (
            "fit_out", "on_tender", client["id"])
        item = await conn.fetchrow("SELECT * FROM scope_items WHERE legacy_id = 'S1'")
        assert (item["unit"], str(item["quantity"]), str(item["unit_price"]), item["status"]) \
            == ("pcs", "2.000", "10.50", "in_progress")
        assert await conn.fetchval("SELECT name FROM scope_groups WHERE id = $1",
                                   item["scope_group_id"]) == "millwork"
        tasks = {r["legacy_id"]: r for r in await conn.fetch("SELECT * FROM tasks")}
        assert tasks["100"]["progress"] == 100 and tasks["100"]["completed_at"] is not None
        assert tasks["101"]["status"] == "in_progress" and tasks["102"]["completed_at"] is None
        assert await conn.fetchval("SELECT count(*) FROM project_members WHERE user_id = $1",
                                   users["2"]["id"]) == 1
        drawing = await conn.fetchrow("SELECT * FROM shop_drawings WHERE legacy_id = 'D1'")
        assert (drawing["status"], drawing["revision"], drawing["file_size"], drawing["title"]) \
            == ("revise_and_resubmit", "Rev B", 1572864, "Desk")
        assert drawing["created_by"] == users["2"]["id"] and "again" in drawing["notes"]
        revisions = await conn.fetch("SELECT * FROM shop_drawing_revisions")
        assert [(r["revision"], r["status"], r["comment"]) for r in revisions] == [
            ("Rev A", "revise_and_resubmit", "fix the heights")]
        spec = await conn.fetchrow("SELECT * FROM material_specs")
        assert (spec["lead_time_days"], str(spec["unit_cost"]), spec["approved_by"]) == (
            14, "12.50", admin["id"])
        assert spec["specification"] == {"specifications": {"grade": "A"}, "hardware": "hinges",
                                         "costBreakdown": {"total": 12.5},
                                         "shop_drawings": ["AC-1"]}
        assert await conn.fetchval("SELECT count(*) FROM item_links") == 3  # S1: 100, D1, M1


async def test_newer_export_updates_what_changed_and_adds_what_is_new(
    pool: asyncpg.Pool, world: World, tmp_path: Path,
) -> None:
    await setup(world)
    data = export()
    await import_legacy(pool, write(tmp_path / "v1", data), org_slug="acme")
    data["tasks"][1]["status"] = "pending"
    data["tasks"].append({"id": 104, "projectId": 10, "name": "New one"})
    report = await import_legacy(pool, write(tmp_path / "v2", data), org_slug="acme")
    tasks = report.files["tasks"]
    assert (tasks.read, tasks.created, tasks.updated, tasks.unchanged, tasks.skipped) == (
        5, 1, 1, 2, 1)
    assert all(c.created == c.updated == 0 for f, c in report.files.items() if f != "tasks")
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT table_name, action, changed_fields FROM audit_logs WHERE request_id = $1 "
            "ORDER BY id", report.request_id)
    assert [(r["table_name"], r["action"], r["changed_fields"]) for r in rows] == [
        ("tasks", "insert", None), ("tasks", "update", ["status"]), (None, "import", None)]


async def test_partial_export_resolves_references_from_the_database(
    pool: asyncpg.Pool, world: World, tmp_path: Path,
) -> None:
    await setup(world)
    data = export()
    first = {k: data[k] for k in ("clients", "teamMembers", "projects")}
    await import_legacy(pool, write(tmp_path / "a", first), org_slug="acme")
    report = await import_legacy(pool, write(tmp_path / "b", {"tasks": data["tasks"]}),
                                 org_slug="acme")
    assert list(report.files) == ["tasks"]
    assert (report.files["tasks"].created, report.files["tasks"].skipped) == (3, 1)
    assert has(report, "tasks", "103", "skipped", "project 77 is neither")
    assert has(report, "tasks", "100", "unlinked", "S1 is neither")


def test_command_line(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("JWT_SECRET", "s" * 40)
    slug = f"cli-{secrets.token_hex(3)}"
    assert main(["create-admin", "--org", slug, "--email", f"boss@{slug}.test",
                 "--password", "a long enough password"]) == 0
    directory = write(tmp_path / "x", {"clients": export()["clients"]})
    report = tmp_path / "report.json"
    assert main(["import-legacy", str(directory), "--org", slug, "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "Legacy import" in out and "clients" in out
    saved = json.loads(report.read_text())
    assert saved["files"]["clients"] == {"read": 2, "created": 1, "updated": 0,
                                         "unchanged": 0, "skipped": 1}
    assert main(["import-legacy", str(directory), "--org", slug, "--dry-run", "--report",
                 str(tmp_path / "r.md")]) == 0
    assert "| clients | 2 | 0 | 0 | 1 | 1 |" in (tmp_path / "r.md").read_text()
    (directory / "clients.json").write_text('[{"id": 1, "companyName": "Acme"}, ')
    assert main(["import-legacy", str(directory), "--org", slug]) == 1
    err = capsys.readouterr().err
    assert "clients.json: record #1, after record #0 (id 1)" in err and "nothing was written" in err
