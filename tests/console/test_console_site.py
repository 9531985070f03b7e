"""The console's site views in a real browser (Chromium, as tests/console/test_console_browser.py):
the procurement schedule with the at-risk rows set apart and why, scope readiness with what
blocks each item, and the day's site diary — started, manned and completed in one browser,
followed live (locked at the end) in another. A flag that flips on a spec changes the other
page's row without a reload. Screenshots go to tests/artifacts/ (with
FPM_UPDATE_SCREENSHOTS=1 also to docs/console-procurement.png and docs/console-diary.png).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from pathlib import Path

import asyncpg
from playwright.async_api import Browser, Page, expect

from db.pool import system_transaction
from server.config import Settings
from tests.conftest import World
from tests.console.test_console_browser import (
    DESKTOP,
    DOCS,
    PHONE,
    _api,
    _close_pages,
    _download,
    _fits_a_phone,
    _row,
    _sign_in,
    _site,
    browser,
)
from tests.realtime.conftest import Worker

__all__ = ["browser"]   # the fixture, shared


async def _shot(page: Page, section: str, name: str, artifacts_dir: Path) -> None:
    """A section to tests/artifacts/console-<name>.png (and docs/ with
    FPM_UPDATE_SCREENSHOTS=1), with no toast or sticky header over it."""
    paths = [artifacts_dir / f"console-{name}.png"]
    if os.environ.get("FPM_UPDATE_SCREENSHOTS") == "1":
        paths.append(DOCS / f"console-{name}.png")
    hide = "for (const e of [document.getElementById('toast'), document.querySelector('.bar')]) "
    await page.evaluate(f"{hide} e.hidden = true")  # `hidden`, not a style: the CSP
    for path in paths:
        await page.locator(f"#{section}-section").screenshot(path=str(path),
                                                              animations="disabled")
    await page.evaluate(f"{hide} e.hidden = false")


async def test_procurement_readiness_and_the_days_diary_live_in_two_browsers(
    browser: Browser, settings: Settings, pool: asyncpg.Pool, world: World, tmp_path: Path,
    artifacts_dir: Path,
) -> None:
    site = await _site(world, pool)
    today = dt.date.today()
    async with system_transaction(pool) as conn:
        org = await conn.fetchval("SELECT org_id FROM projects WHERE id = $1", site.project)
        group = await conn.fetchval("INSERT INTO scope_groups (org_id, project_id, name) "
                                    "VALUES ($1, $2, 'Lobby') RETURNING id", org, site.project)
        desk, ceiling = [await conn.fetchval(
            "INSERT INTO scope_items (org_id, project_id, scope_group_id, name) "
            "VALUES ($1, $2, $3, $4) RETURNING id", org, site.project, group, name)
            for name in ("Reception desk", "Ceiling panels")]
    server = Worker(settings, tmp_path)
    server.start()
    try:
        await server.ready()
        # Needed on site in 10 days with 30 days' lead time: order-by and submit-by passed.
        marble = await _api(server.url, site.designer, "POST", "/material-specs", {
            "project_id": str(site.project), "description": "Marble <b>Calacatta</b> slab",
            "supplier_name": "Taş A.Ş.", "required_on_site": str(today + dt.timedelta(days=10)),
            "lead_time_days": 30, "design_review_days": 5, "scope_item_ids": [str(desk)]})
        assert sorted(marble["risk_reasons"]) == ["order_overdue", "submit_overdue"]
        await _api(server.url, site.designer, "POST", "/material-specs", {
            "project_id": str(site.project), "description": "Brass trim",
            "required_on_site": str(today + dt.timedelta(days=200)), "lead_time_days": 20})

        errors: list[str] = []
        office = await _sign_in(browser, server.url, site.pm, site.project, DESKTOP, errors)
        field = await _sign_in(browser, server.url, site.designer, site.project, PHONE, errors)

        # The schedule: the at-risk row set apart with its reasons, the user's text as text.
        row = _row(office, "procurement", marble["id"])
        await expect(office.locator("#procurement li.schedule-row")).to_have_count(3)
        await expect(office.locator("#procurement-count")).to_have_text("3 specs · 1 at risk")
        await expect(row).to_have_class("item schedule-row at-risk")
        await expect(row).to_have_attribute("data-risk", "submit_overdue order_overdue")
        await expect(row.locator(".item-title")).to_have_text("Marble <b>Calacatta</b> slab")
        assert await row.locator("b").count() == 0
        await expect(row.locator(".risk")).to_have_count(2)
        await expect(row.locator('.risk[data-reason="order_overdue"]')).to_contain_text(
            "Order overdue — order-by")
        await expect(row.locator(".dates")).to_contain_text("On site")
        await expect(row.locator(".dates .late time")).to_have_count(2)
        await expect(row.locator(".delivery")).to_have_text("Not ordered")
        await office.click("#procurement-risk")
        await expect(office.locator("#procurement li.schedule-row")).to_have_count(1)
        # Export follows the filter: the at-risk rows only.
        await office.click("#procurement-export")
        _, body = await _download(office, "#procurement-export-menu .export-csv")
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
        assert [r["description"] for r in rows] == ["Marble <b>Calacatta</b> slab"]
        await office.click("#procurement-all")

        # Readiness: the desk waits for the marble; the ceiling has nothing to wait for.
        await expect(office.locator("#readiness-count")).to_have_text(
            "1 of 2 scope items ready · 50%")
        blocked = _row(office, "readiness", desk)
        await expect(blocked).to_have_attribute("data-readiness", "blocked")
        await expect(blocked.locator(".blocker")).to_contain_text(
            "Material spec Marble <b>Calacatta</b> slab")
        await expect(_row(office, "readiness", ceiling)).to_have_attribute("data-readiness",
                                                                           "ready")
        assert await office.locator("#readiness-share").get_attribute("value") == "50"
        await _shot(office, "procurement", "procurement", artifacts_dir)

        # A flag flips by another hand: the on-site date moves out and the link goes; both
        # pages follow without a reload (material_spec.updated, scope_item.updated).
        await _api(server.url, site.pm, "PATCH", f"/material-specs/{marble['id']}", {
            "required_on_site": str(today + dt.timedelta(days=300)), "scope_item_ids": []})
        await expect(_row(field, "procurement", marble["id"])).to_have_attribute(
            "data-risk", "", timeout=10_000)
        await expect(_row(field, "procurement", marble["id"])).to_have_class(
            "item schedule-row")
        await expect(field.locator("#readiness-count")).to_have_text(
            "2 of 2 scope items ready · 100%", timeout=10_000)
        await expect(office.locator("#procurement-count")).to_have_text("3 specs")
        await expect(field.locator("#feed")).to_contain_text(
            "Murat Kaya cleared the risk on material Marble <b>Calacatta</b> slab")

        # Today's diary: started in the office, followed on site.
        await expect(office.locator("#diary-start")).to_be_visible()
        await expect(field.locator("#diary-start")).to_be_visible()
        await office.uncheck("#diary-copy")
        await office.click("#diary-start")
        diary = office.locator("#diary")
        await expect(diary).to_have_attribute("data-status", "open")
        await expect(field.locator("#diary")).to_have_attribute("data-status", "open",
                                                                timeout=10_000)
        await office.fill("#diary-company", "Kaya <i>Joinery</i>")
        await office.fill("#diary-trade", "Carpentry")
        await office.fill("#diary-workers", "6")
        await office.fill("#diary-hours", "8")
        await office.click("#diary-manpower-form button[type=submit]")
        await expect(office.locator("#diary-manpower li")).to_have_count(1)
        await expect(office.locator("#diary-company")).to_have_value("")
        await expect(field.locator("#diary-manpower")).to_contain_text(
            "Kaya <i>Joinery</i> · Carpentry — 6 workers, 8 h", timeout=10_000)
        assert await field.locator("#diary-manpower i").count() == 0
        await office.fill("#diary-notes", "Marble slab checked on arrival.\nNo damage.")
        await office.click("#diary-notes-form button[type=submit]")
        await expect(office.locator("#diary-notes-form button[type=submit]")).to_be_disabled()
        await expect(field.locator("#diary-notes")).to_have_value(
            "Marble slab checked on arrival.\nNo damage.", timeout=10_000)
        assert await field.locator("#diary-complete").count() == 0   # designers don't complete
        await _fits_a_phone(field)

        # Completed: locked in both pages, no forms left.
        await office.click("#diary-complete")
        await expect(diary).to_have_attribute("data-status", "complete")
        await expect(diary.locator(".badge.locked")).to_have_text("Complete · locked")
        await expect(office.locator("#diary-completed")).to_contain_text("Murat Kaya")
        on_site = field.locator("#diary")
        await expect(on_site).to_have_attribute("data-status", "complete", timeout=10_000)
        await expect(on_site.locator("#diary-notes-text")).to_have_text(
            "Marble slab checked on arrival.\nNo damage.")
        assert await field.locator("#diary form, #diary-complete").count() == 0
        await expect(field.locator("#feed li").first).to_contain_text(
            "Murat Kaya completed and locked the site diary of")
        await _shot(office, "diary", "diary", artifacts_dir)

        # A client reads the schedule but no diary.
        reader = await _sign_in(browser, server.url, site.client, site.project, PHONE, errors)
        await expect(reader.locator("#procurement li.schedule-row")).to_have_count(3)
        assert await reader.locator("#diary-section").count() == 0
        assert errors == []
    finally:
        await _close_pages(browser)
        server.stop()
