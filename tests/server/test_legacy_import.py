"""The legacy import against a real database: the real export, idempotence, dry runs,
corrupt files, and small fixtures of our own covering each quirk."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from importer import ImportAborted, LegacyFormatError, import_legacy
from importer.report import Report
from tests.conftest import World

REPO = Path(__file__).resolve().parents[2]


def legacy_data() -> Path:
    """The first system's export: beside the repository (CI), or beside the worktrees."""
    candidates = [Path(os.environ["LEGACY_DATA_DIR"])] if os.environ.get("LEGACY_DATA_DIR") \
        else []
    candidates += [REPO / "../shared/legacy-data", REPO / "../../shared/legacy-data"]
    for path in candidates:
        if (path / "tasks.json").exists():
            return path.resolve()
    raise AssertionError(f"legacy data not found in {[str(c) for c in candidates]}")


async def org_admin(world: World, slug: str = "formula") -> dict[str, Any]:
    org = await world.org(slug)
    return await world.user(org, "admin", email=f"admin@{slug}.test")


async def counts(pool: asyncpg.Pool) -> dict[str, int]:
    tables = ("clients", "users", "projects", "project_members", "scope_groups", "scope_items",
              "tasks", "shop_drawings", "shop_drawing_revisions", "material_specs",
              "item_links", "audit_logs")
    async with pool.acquire() as conn:
        # Tables of `tables` only.
        return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in tables}  # noqa: S608


def details(report: Report, file: str, record: str, action: str | None = None) -> str:
    return " | ".join(i.detail for i in report.find(file, record, action))


async def test_real_export_imports_with_expected_counts_and_quirks(
    pool: asyncpg.Pool, world: World,
) -> None:
    admin = await org_admin(world)
    report = await import_legacy(pool, legacy_data(), org_slug="formula")
    expected = {"clients": 6, "teamMembers": 14, "projects": 8, "scopeItems": 20, "tasks": 37,
                "shopDrawings": 11, "materialSpecifications": 12}
    assert {f: (c.read, c.created, c.skipped) for f, c in report.files.items()} == {
        f: (n, n, 0) for f, n in expected.items()}
    assert report.balanced
    found = await counts(pool)
    assert (found["clients"], found["users"], found["tasks"], found["scope_items"]) == (
        6, 15, 37, 20)
    assert found["shop_drawing_revisions"] == 4 and found["scope_groups"] == 7
    # Client links: "1" as a string, a null client, a name that contradicts the id.
    assert "string '1'" in details(report, "projects", "2008", "fixed")
    assert "clientId null" in details(report, "projects", "2007", "unlinked")
    assert "'Test Client Corp.' does not match client 1" in details(report, "projects", "2003")
    assert "by clientName 'Garanti BBVA'" in details(report, "projects", "2002", "fixed")
    for task in ("3034", "3035", "3036"):
        assert "neither in the export nor in the database" in details(report, "tasks", task)
    for task in range(3024, 3034):
        assert "belongs to project 200" in details(report, "tasks", str(task), "unlinked")
    assert "'Ahmet Yılmaz' does not match uploadedById 1010" in details(
        report, "shopDrawings", "SD001", "warning")
    assert "'Mehmet Demir' does not match approvedById 1007" in details(
        report, "materialSpecifications", "SPEC004", "warning")
    for task in ("3022", "3031"):
        assert "completed with progress 0 and no completedAt" in details(report, "tasks", task)
    assert len(report.invited) == 14
    async with pool.acquire() as conn:
        task = await conn.fetchrow("SELECT * FROM tasks WHERE legacy_id = '3022'")
        assert task["progress"] == 100 and task["completed_at"] is not None
        linked = await conn.fetchval(
            """SELECT count(*) FROM item_links l JOIN tasks t ON t.id = l.task_id
               WHERE t.legacy_id = ANY($1::text[])""", [str(n) for n in range(3024, 3037)])
        assert linked == 0
        actors = await conn.fetch(
            "SELECT DISTINCT user_id, request_id FROM audit_logs WHERE request_id LIKE "
            "'import-legacy:%'")
        assert [a["user_id"] for a in actors] == [admin["id"]]
        assert await conn.fetchval(
            "SELECT count(*) FROM audit_logs WHERE action = 'import'") == 1


async def test_second_run_is_a_no_op(pool: asyncpg.Pool, world: World) -> None:
    await org_admin(world)
    await import_legacy(pool, legacy_data(), org_slug="formula")
    before = await counts(pool)
    again = await import_legacy(pool, legacy_data(), org_slug="formula")
    assert await counts(pool) == before  # not one audit row more
    assert all(c.unchanged == c.read and c.created == c.updated == 0
               for c in again.files.values())
    assert sum(t.created + t.updated for t in again.tables.values()) == 0


async def test_dry_run_writes_nothing(pool: asyncpg.Pool, world: World) -> None:
    await org_admin(world)
    before = await counts(pool)
    report = await import_legacy(pool, legacy_data(), org_slug="formula", dry_run=True)
    assert report.files["tasks"].created == 37 and report.dry_run
    assert await counts(pool) == before


@pytest.mark.parametrize(("file", "damage", "message"), [
    ("tasks.json", lambda raw: raw[: len(raw) // 2],
     r"tasks.json: record #\d+, after record #\d+ \(id \d+\): invalid JSON"),
    ("projects.json", lambda raw: json.dumps(
        [*json.loads(raw)[:3], {**json.loads(raw)[3], "budget": [1, 2]}]),
     r"projects.json: record #3 \(id 2004\): field \"budget\" must be number, got list"),
    ("shopDrawings.json", lambda raw: json.dumps(
        [{**json.loads(raw)[0], "revisionHistory": ["Rev A"]}]),
     r"shopDrawings.json: record #0 \(id 'SD001'\): field \"revisionHistory\" item #0 must be "
     r"an object"),
    ("clients.json", lambda raw: json.dumps([{"companyName": "No id"}]),
     r"clients.json: record #0: field \"id\" must be"),
])
async def test_corrupt_file_names_file_and_record_and_changes_nothing(
    pool: asyncpg.Pool, world: World, tmp_path: Path, file: str, damage: Any, message: str,
) -> None:
    await org_admin(world)
    data = tmp_path / "export"
    shutil.copytree(legacy_data(), data)
    (data / file).chmod(0o644)
    (data / file).write_text(damage((data / file).read_text(encoding="utf-8")),
                             encoding="utf-8")
    before = await counts(pool)
    with pytest.raises(LegacyFormatError, match=message):
        await import_legacy(pool, data, org_slug="formula")
    assert await counts(pool) == before


async def test_failure_midway_rolls_everything_back(pool: asyncpg.Pool, world: World) -> None:
    await org_admin(world)
    before = await counts(pool)

    class Breaks:
        def phase(self, name: str, total: int) -> None:
            self.writing = name == "writing"

        def advance(self, n: int = 1) -> None:
            if self.writing:
                raise RuntimeError("disk full")

        def close(self) -> None:
            pass

    with pytest.raises(RuntimeError, match="disk full"):
        await import_legacy(pool, legacy_data(), org_slug="formula", tracker=Breaks())
    assert await counts(pool) == before


async def test_unknown_org_or_actor_is_refused(pool: asyncpg.Pool, world: World) -> None:
    with pytest.raises(ImportAborted, match="no organisation 'nowhere'"):
        await import_legacy(pool, legacy_data(), org_slug="nowhere")
    await org_admin(world)
    with pytest.raises(ImportAborted, match=r"no admin ghost@x\.test"):
        await import_legacy(pool, legacy_data(), org_slug="formula", as_email="ghost@x.test")
