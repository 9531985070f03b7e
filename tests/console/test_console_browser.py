"""The console in a real browser: browser → REST → PostgreSQL → Socket.IO → another browser.

Drives Debian's Chromium (`/usr/bin/chromium`, installed by .ci/run) with Playwright. Two
members of one project sign in; a change in one page appears in the other; the server is
stopped and started again while a change is made through another worker's REST API, and the
page reconnects and resyncs it; a stale edit shows a conflict. Screenshots go to
tests/artifacts/ (not committed).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from server.config import Settings
from tests.conftest import PASSWORD, World
from tests.realtime.conftest import Worker

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("Chromium is not installed (apt-get install chromium; .ci/run does it)",
                    pytrace=False)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        await chromium.close()


async def _sign_in(browser: Browser, url: str, email: str, project: Any) -> Page:
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await page.goto(f"{url}/?project={project}")
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.click("#signin-form button")
    await expect(page.locator("#connection")).to_contain_text("connected", timeout=10_000)
    return page


async def _patch_task(url: str, token: str, task: Any, version: int, status: str) -> None:
    async with aiohttp.ClientSession() as http:
        response = await http.patch(f"{url}/api/v1/tasks/{task}", json={"status": status},
                                    headers={"Authorization": f"Bearer {token}",
                                             "If-Match": f'"{version}"'})
        assert response.status == 200, await response.text()


async def test_two_browsers_live_resync_and_conflict(
    browser: Browser, settings: Settings, pool: asyncpg.Pool, world: World,
    tmp_path: Path, artifacts_dir: Path,
) -> None:
    org = await world.org()
    pm = await world.user(org, "project_manager", first_name="Murat", last_name="Kaya")
    designer = await world.user(org, "designer", first_name="Deniz", last_name="Yılmaz")
    project = await world.project(org, members=[pm, designer], name="Levent Lobby")
    async with pool.acquire() as conn:
        task = await conn.fetchval(
            "INSERT INTO tasks (org_id, project_id, name) VALUES ($1, $2, 'Cut walnut panels') "
            "RETURNING id", org, project)
        await conn.execute(
            "INSERT INTO shop_drawings (org_id, project_id, drawing_number, title, created_by) "
            "VALUES ($1, $2, 'AK-MM-001', 'Reception desk', $3)", org, project, designer["id"])
    server, other = Worker(settings, tmp_path), Worker(settings, tmp_path)
    server.start()
    other.start()
    try:
        await server.ready()
        await other.ready()
        office = await _sign_in(browser, server.url, pm["email"], project)
        site = await _sign_in(browser, server.url, designer["email"], project)

        # Presence: both see both.
        for page in (office, site):
            await expect(page.locator("#presence")).to_contain_text("Murat Kaya")
            await expect(page.locator("#presence")).to_contain_text("Deniz Yılmaz")

        # A change in one browser reaches the other's feed and table.
        await office.select_option("#task-status", "in_progress")
        await office.click("#task-form button")
        await expect(site.locator("#tasks")).to_contain_text("in_progress", timeout=10_000)
        await expect(site.locator("#feed")).to_contain_text("Murat Kaya updated task",
                                                            timeout=10_000)
        await office.screenshot(path=str(artifacts_dir / "console-office.png"), full_page=True)
        await site.screenshot(path=str(artifacts_dir / "console-site.png"), full_page=True)

        # The server goes away; meanwhile a change is made through another worker's API.
        server.stop()
        await expect(site.locator("#connection")).to_contain_text("reconnecting",
                                                                  timeout=10_000)
        async with aiohttp.ClientSession() as http:
            signin = await http.post(f"{other.url}/api/v1/auth/login",
                                     json={"email": pm["email"], "password": PASSWORD})
            token = (await signin.json())["access_token"]
        version = await pool.fetchval("SELECT version FROM tasks WHERE id = $1", task)
        await _patch_task(other.url, token, task, version, "review")
        server.start()
        await server.ready()
        await expect(site.locator("#connection")).to_contain_text("resynced",
                                                                  timeout=15_000)
        await expect(site.locator("#tasks")).to_contain_text("review", timeout=5_000)
        await site.screenshot(path=str(artifacts_dir / "console-resynced.png"),
                              full_page=True)

        # A stale edit is shown as a conflict instead of overwriting.
        await site.evaluate(
            "([id]) => { const t = state.tasks.get(id); t.version = t.version - 1; }",
            [str(task)])
        await site.select_option("#task-status", "completed")
        await site.click("#task-form button")
        await expect(site.locator("#message")).to_contain_text("Conflict", timeout=5_000)
        status = await pool.fetchval("SELECT status FROM tasks WHERE id = $1", task)
        assert status == "review"
        await site.screenshot(path=str(artifacts_dir / "console-conflict.png"), full_page=True)
    finally:
        server.stop()
        other.stop()
