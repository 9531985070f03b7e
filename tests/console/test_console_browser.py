"""The console in a real browser: browser → REST → PostgreSQL → Socket.IO → another browser.

Drives Debian's Chromium (`/usr/bin/chromium`, installed by .ci/run) with Playwright, at a
phone's width (390 × 844) and a desktop's (1280 × 800). A project manager signs in, reads
tasks with their assignee and due date, filters them, changes the status of the task they
selected (the form must follow the selection: it once kept the first task's status, so one
"Save" could reset another task), and a colleague's page shows it live in its list and as a
sentence in its feed; drawing actions follow the selected drawing; the summary chart is
drawn; sign-out ends the session on the server. A second scenario stops the server while a
change is made through another worker, and the page reconnects and resyncs it; a stale edit
shows a conflict. The drawing register, on both storage backends: a designer uploads a PDF
for a new revision (progress under a throttled upload, then its thumbnail), a project
manager in another browser publishes it, and the designer's register marks the old revision
superseded without a reload; the client then reads the current set. RFIs and reviews: a
manager raises an RFI, the designer answers it, the manager makes the answer official, each
seeing the other's change live; the designer answers the first step of a review and the
manager's page hands them the ball. Exports: Export → CSV or Excel on a list downloads the
rows it shows (with its filter), the weekly report runs as a job with its progress and
downloads as a PDF, refusals are messages, and a large list made a job comes from the bucket.
Screenshots go to tests/artifacts/ (not committed); with
FPM_UPDATE_SCREENSHOTS=1 the two widths, the register, the RFIs, the reviews and the exports
are also written to docs/console-*.png.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from playwright.async_api import Browser, Page, Route, async_playwright, expect

from server.config import Settings
from tests.conftest import PASSWORD, World
from tests.realtime.conftest import Worker

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
DOCS = Path(__file__).resolve().parents[2] / "docs"
# Not failures of the page: a refused write (412) and a server that is down are logged
# by Chromium itself.
MONEY_AND_COUNTS = ("budget", "committed_material_cost", "budget_remaining", "scope_value",
                    "scope_completion", "tasks_by_status", "progress")
BROWSER_NOISE = ("Failed to load resource", "WebSocket connection to")


@dataclass
class Site:
    project: Any
    pm: dict[str, Any]
    designer: dict[str, Any]
    client: dict[str, Any]   # the project's client: reads, never writes
    walnut: Any      # task A: the designer's, due next week
    desk: Any        # task B: the manager's, overdue
    draft: Any       # drawing in draft (the designer's move)
    review: Any      # drawing in review (the manager's move)
    walnut_due: str


async def _site(world: World, pool: asyncpg.Pool) -> Site:
    org = await world.org()
    pm = await world.user(org, "project_manager", first_name="Murat", last_name="Kaya")
    designer = await world.user(org, "designer", first_name="Deniz", last_name="Yılmaz")
    client_id = await world.client_record(org, "Levent Holding")
    client = await world.user(org, "client", client_id=client_id, first_name="Selin",
                              last_name="Aksoy")
    project = await world.project(org, members=[pm, designer, client], client_id=client_id,
                                  name="Levent Lobby")
    today = dt.date.today()
    async with pool.acquire() as conn:
        async def task(name: str, status: str, who: Any, due: dt.date | None) -> Any:
            return await conn.fetchval(
                "INSERT INTO tasks (org_id, project_id, name, status, assigned_to, due_date) "
                "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                org, project, name, status, who, due)

        async def drawing(number: str, title: str, status: str) -> Any:
            return await conn.fetchval(
                "INSERT INTO shop_drawings (org_id, project_id, drawing_number, title, status, "
                "created_by, reviewed_by) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                org, project, number, title, status, designer["id"], pm["id"])

        walnut = await task("Cut walnut panels", "pending", designer["id"],
                            today + dt.timedelta(days=7))
        desk = await task("Fit reception desk", "in_progress", pm["id"],
                          today - dt.timedelta(days=3))
        await task("Order brass trims", "completed", None, None)
        draft = await drawing("AK-MM-001", "Reception desk", "draft")
        review = await drawing("AK-MM-002", "Lobby ceiling", "in_review")
        await conn.execute(
            "INSERT INTO material_specs (org_id, project_id, description, status, quantity, "
            "unit, unit_cost, total_cost, created_by) VALUES ($1, $2, 'Walnut veneer 0.6 mm', "
            "'pending_approval', 42, 'm2', 100, 4200, $3)", org, project, designer["id"])
    return Site(project, pm, designer, client, walnut, desk, draft, review,
                (today + dt.timedelta(days=7)).isoformat())


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("Chromium is not installed (apt-get install chromium; .ci/run does it)",
                    pytrace=False)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        await chromium.close()


async def _sign_in(browser: Browser, url: str, user: dict[str, Any], project: Any,
                   viewport: dict[str, int], errors: list[str] | None = None,
                   routes: dict[str, Any] | None = None) -> Page:
    page = await (await browser.new_context(viewport=viewport)).new_page()  # type: ignore[arg-type]
    for pattern, handler in (routes or {}).items():
        await page.route(pattern, handler)
    if errors is not None:
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error"
                and not m.text.startswith(BROWSER_NOISE) else None)
    await page.goto(f"{url}/?project={project}")
    await page.fill("#email", user["email"])
    await page.fill("#password", PASSWORD)
    await page.click("#signin-form button[type=submit]")
    await expect(page.locator("#connection")).to_contain_text("connected", timeout=10_000)
    await expect(page.locator("#tasks li")).to_have_count(3)
    return page


async def _close_pages(browser: Browser) -> None:
    """Before the server stops: a worker with open sockets takes its full grace to stop."""
    for context in browser.contexts:
        await context.close()


def _row(page: Page, list_id: str, record: Any) -> Any:
    return page.locator(f'#{list_id} li[data-id="{record}"]')


async def _open(page: Page, list_id: str, record: Any) -> None:
    await _row(page, list_id, record).locator(".item-head").click()


async def _options(page: Page, select: str) -> list[str]:
    values: list[str] = await page.eval_on_selector_all(
        f"{select} option", "options => options.map(o => o.value)")
    return values


async def _fits_a_phone(page: Page) -> None:
    """No sideways scrolling, and every visible control is at least 40 px high."""
    width = await page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide"
    small = await page.evaluate("""() => [...document.querySelectorAll(
        'button, select, input, textarea, a[href]')].filter(e => e.offsetParent !== null)
        .map(e => [e.id || e.textContent.trim(), e.getBoundingClientRect().height])
        .filter(([, h]) => h < 40)""")
    assert small == [], f"tap targets under 40 px: {small}"


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_a_site_pm_reads_filters_and_changes_work_live(
    browser: Browser, settings: Settings, pool: asyncpg.Pool, world: World,
    tmp_path: Path, artifacts_dir: Path, viewport: dict[str, int],
) -> None:
    site = await _site(world, pool)
    server = Worker(settings, tmp_path)
    server.start()
    try:
        await server.ready()
        errors: list[str] = []
        office = await _sign_in(browser, server.url, site.pm, site.project, viewport, errors)
        other = PHONE if viewport is DESKTOP else DESKTOP
        colleague = await _sign_in(browser, server.url, site.designer, site.project, other, errors)
        await expect(office.locator("#who")).to_have_text("Murat Kaya · Project manager")

        # Who has each task and when it is due; the overdue one says so.
        walnut, desk = _row(office, "tasks", site.walnut), _row(office, "tasks", site.desk)
        await expect(walnut).to_contain_text("Deniz Yılmaz")
        await expect(walnut).to_contain_text("Not started")
        await expect(walnut.locator(f'time[datetime="{site.walnut_due}"]')).to_be_visible()
        await expect(desk).to_contain_text("You")
        await expect(desk).to_contain_text("Overdue")

        # Filters.
        await office.click("#filter-mine")
        await expect(office.locator("#tasks li")).to_have_count(1)
        await expect(office.locator("#tasks")).to_contain_text("Fit reception desk")
        await office.click("#filter-overdue")
        await expect(office.locator("#tasks li")).to_have_count(1)
        await expect(office.locator("#tasks")).to_contain_text("Fit reception desk")
        await office.click("#filter-all")
        await expect(office.locator("#tasks li")).to_have_count(3)

        # The status form follows the selected task (A, then B), so Save cannot reset B.
        await _open(office, "tasks", site.walnut)
        await expect(office.locator("#task-status")).to_have_value("pending")
        await _open(office, "tasks", site.desk)
        await expect(office.locator("#task-form")).to_have_count(1)
        await expect(office.locator("#task-status")).to_have_value("in_progress")
        await expect(office.locator("#task-form button[type=submit]")).to_be_disabled()
        await office.select_option("#task-status", "review")
        async with office.expect_request(lambda r: r.method == "PATCH") as sent:
            await office.click("#task-form button[type=submit]")
        headers = (await sent.value).headers
        assert headers["if-match"] == '"1"' and headers["x-socket-id"]
        await expect(desk).to_contain_text("In review")
        await expect(office.locator("#feed")).to_contain_text(
            "You moved Fit reception desk to review")
        assert await pool.fetchval("SELECT status FROM tasks WHERE id = $1", site.walnut) \
            == "pending"

        # The colleague sees it live: in the list and as a sentence in the feed.
        await expect(_row(colleague, "tasks", site.desk)).to_contain_text("In review",
                                                                          timeout=10_000)
        await expect(colleague.locator("#feed li").first).to_contain_text(
            "Murat Kaya moved Fit reception desk to review — just now", timeout=10_000)

        # Drawing actions are those of the selected drawing; ball in court names its holder.
        await expect(_row(office, "drawings", site.draft)).to_contain_text(
            "Ball in court: Deniz Yılmaz (submitter)")
        await expect(_row(office, "drawings", site.review)).to_contain_text(
            "Ball in court: You (reviewer)")
        await _open(office, "drawings", site.draft)
        await expect(office.locator("#drawing-action")).to_have_count(1)
        assert await _options(office, "#drawing-action") == ["submit", "void"]
        await _open(office, "drawings", site.review)
        await expect(office.locator("#drawing-form")).to_contain_text("Approve as noted")
        assert await _options(office, "#drawing-action") == [
            "approve", "approve_as_noted", "request_revision", "reject", "void"]
        await _open(colleague, "drawings", site.review)
        await expect(colleague.locator("#drawing-no-action")).to_be_visible()
        await expect(colleague.locator("#specs")).to_contain_text("Awaiting approval")

        # The summary as a chart, with the new status counted.
        chart = office.locator("#summary-chart")
        await expect(chart).to_be_visible()
        await expect(chart.locator("rect.bar.s-review")).to_have_count(1, timeout=10_000)
        await expect(chart.locator("rect.bar.s-completed")).to_have_count(1)

        if viewport is PHONE:
            await _fits_a_phone(office)
        else:
            await _fits_a_phone(colleague)
        name = "phone" if viewport is PHONE else "desktop"
        await office.screenshot(path=str(artifacts_dir / f"console-{name}.png"), full_page=True)
        if os.environ.get("FPM_UPDATE_SCREENSHOTS") == "1":
            await office.evaluate("window.scrollTo(0, 0)")
            await office.screenshot(path=str(DOCS / f"console-{name}.png"))

        # A drawing action: the comment it needs, the colleague's feed, the next actions.
        await office.select_option("#drawing-action", "request_revision")
        await expect(office.locator("#drawing-form button[type=submit]")).to_be_disabled()
        await office.fill("#drawing-comment", "Show the access panel")
        await office.click("#drawing-form button[type=submit]")
        await expect(colleague.locator("#feed li").first).to_contain_text(
            "Murat Kaya asked for a revision of drawing AK-MM-002 Lobby ceiling", timeout=10_000)
        await expect(_row(colleague, "drawings", site.review)).to_contain_text(
            "Ball in court: You (submitter)")
        await expect(office.locator("#drawing-action")).to_have_count(1)
        assert await _options(office, "#drawing-action") == ["new_revision", "void"]

        # Sign-out ends the session on the server, not only in the page.
        token = await office.evaluate("JSON.parse(sessionStorage.getItem('fpm.session')).access")
        await office.click("#signout")
        await expect(office.locator("#signin-form")).to_be_visible()
        assert await office.evaluate("sessionStorage.getItem('fpm.session')") is None
        async with aiohttp.ClientSession() as http:
            me = await http.get(f"{server.url}/api/v1/auth/me",
                                headers={"Authorization": f"Bearer {token}"})
            assert me.status == 401
        assert errors == []
    finally:
        await _close_pages(browser)
        server.stop()


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
    site = await _site(world, pool)
    server, other = Worker(settings, tmp_path), Worker(settings, tmp_path)
    server.start()
    other.start()
    try:
        await server.ready()
        await other.ready()
        office = await _sign_in(browser, server.url, site.pm, site.project, DESKTOP)
        phone = await _sign_in(browser, server.url, site.designer, site.project, PHONE)

        # Presence: both see both.
        for page in (office, phone):
            await expect(page.locator("#presence")).to_contain_text("Murat Kaya")
            await expect(page.locator("#presence")).to_contain_text("Deniz Yılmaz")

        # A change in one browser reaches the other's list.
        await _open(office, "tasks", site.walnut)
        await office.select_option("#task-status", "in_progress")
        await office.click("#task-form button[type=submit]")
        await expect(_row(phone, "tasks", site.walnut)).to_contain_text("In progress",
                                                                        timeout=10_000)
        await expect(phone.locator("#feed")).to_contain_text("Murat Kaya started Cut walnut panels")
        await _open(phone, "tasks", site.walnut)   # its form stays open through what follows
        await expect(phone.locator("#task-status")).to_have_value("in_progress")

        # The server dies; meanwhile a change is made through another worker's API.
        server.kill()
        await expect(phone.locator("#connection")).to_contain_text("reconnecting",
                                                                   timeout=10_000)
        async with aiohttp.ClientSession() as http:
            signin = await http.post(f"{other.url}/api/v1/auth/login",
                                     json={"email": site.pm["email"], "password": PASSWORD})
            token = (await signin.json())["access_token"]
        version = await pool.fetchval("SELECT version FROM tasks WHERE id = $1", site.walnut)
        await _patch_task(other.url, token, site.walnut, version, "review")
        server.start()
        await server.ready()
        await expect(phone.locator("#toast")).to_contain_text("resynced 1 change",
                                                              timeout=15_000)
        await expect(phone.locator("#connection")).to_have_text("connected")
        await expect(_row(phone, "tasks", site.walnut)).to_contain_text("In review")
        # The open form follows the record: it shows the status the task has now.
        await expect(phone.locator("#task-status")).to_have_value("review")
        await expect(phone.locator("#feed")).to_contain_text(
            "Murat Kaya moved Cut walnut panels to review")
        await phone.screenshot(path=str(artifacts_dir / "console-resynced.png"), full_page=True)

        # A stale edit is a conflict, not an overwrite: the request goes out with the
        # version the task had before the two changes above.
        async def stale(route: Route) -> None:
            await route.continue_(headers={**route.request.headers, "if-match": '"1"'})

        await phone.route("**/api/v1/tasks/*", stale)
        await phone.select_option("#task-status", "completed")
        await phone.click("#task-form button[type=submit]")
        await expect(phone.locator("#message")).to_contain_text("Conflict", timeout=5_000)
        assert await pool.fetchval("SELECT status FROM tasks WHERE id = $1", site.walnut) \
            == "review"
        await expect(phone.locator("#task-status")).to_have_value("review")  # reloaded
        await phone.screenshot(path=str(artifacts_dir / "console-conflict.png"), full_page=True)
        await phone.unroute("**/api/v1/tasks/*")

        # Down again while more changes are made than one resync returns: the page is told
        # there is a gap and reloads its lists over REST.
        server.kill()
        await expect(phone.locator("#connection")).to_contain_text("reconnecting",
                                                                   timeout=10_000)
        await pool.execute(
            "INSERT INTO tasks (org_id, project_id, name) SELECT $1, $2, 'Snag ' || n "
            "FROM generate_series(1, 1001) AS n", site.pm["org_id"], site.project)
        server.start()
        await server.ready()
        await expect(phone.locator("#toast")).to_contain_text("lists were reloaded",
                                                              timeout=15_000)
        await expect(phone.locator("#tasks li")).to_have_count(1004)
    finally:
        await _close_pages(browser)
        server.stop()
        other.stop()


async def test_the_page_refreshes_its_token_before_it_expires(
    browser: Browser, settings: Settings, pool: asyncpg.Pool, world: World, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACCESS_TOKEN_TTL", "5")
    site = await _site(world, pool)
    server = Worker(settings, tmp_path)
    server.start()
    try:
        await server.ready()
        page = await _sign_in(browser, server.url, site.pm, site.project, PHONE)
        refused: list[str] = []
        page.on("response", lambda r: refused.append(r.url) if r.status == 401 else None)
        first = await page.evaluate("JSON.parse(sessionStorage.getItem('fpm.session')).access")
        await page.wait_for_timeout(7_000)   # past the first token's expiry
        now = await page.evaluate("JSON.parse(sessionStorage.getItem('fpm.session')).access")
        assert now != first
        await _open(page, "tasks", site.walnut)
        await page.select_option("#task-status", "in_progress")
        await page.click("#task-form button[type=submit]")
        await expect(_row(page, "tasks", site.walnut)).to_contain_text("In progress")
        await expect(page.locator("#connection")).to_have_text("connected")
        assert refused == []   # refreshed ahead of time, never after a refusal

        # The client reads the same project, no write forms; a summary without costs or
        # counts (fields a client may not be given) still draws, from the tasks it holds.
        async def trimmed(route: Route) -> None:
            answer = await route.fetch()
            body = {k: v for k, v in (await answer.json()).items() if k not in MONEY_AND_COUNTS}
            await route.fulfill(response=answer, json=body)

        errors: list[str] = []
        reader = await _sign_in(browser, server.url, site.client, site.project, DESKTOP, errors,
                                {"**/api/v1/projects/*/summary": trimmed})
        await expect(reader.locator("#who")).to_have_text("Selin Aksoy · Client")
        await expect(reader.locator("#summary-chart")).to_have_attribute(
            "aria-label", "Tasks by status: 0 not started, 2 in progress, 0 in review, "
            "1 completed, 0 cancelled")
        await expect(reader.locator("#summary")).not_to_contain_text("Budget")
        await expect(reader.locator("#summary")).to_contain_text("Team")
        await expect(_row(reader, "tasks", site.walnut)).to_contain_text("In progress")
        await _open(reader, "tasks", site.walnut)
        await _open(reader, "drawings", site.draft)
        await expect(reader.locator("#drawing-no-action")).to_be_visible()
        await expect(reader.locator("#task-form")).to_have_count(0)
        assert errors == []
    finally:
        await _close_pages(browser)
        server.stop()


def _sheet_pdf(path: Path) -> int:
    """A one-page PDF (a noisy scan) of about a megabyte, enough for the upload to take a while
    under the throttle below, small enough to thumbnail at once."""
    import random

    from PIL import Image

    noise = random.Random(22).randbytes(1100 * 800 * 3)
    Image.frombytes("RGB", (1100, 800), noise).save(path, "PDF", quality=95)
    return path.stat().st_size


async def _api(url: str, user: dict[str, Any], method: str, path: str,
               body: dict[str, Any] | None = None) -> Any:
    async with aiohttp.ClientSession() as http:
        signin = await http.post(f"{url}/api/v1/auth/login",
                                 json={"email": user["email"], "password": PASSWORD})
        token = (await signin.json())["access_token"]
        async with http.request(method, f"{url}/api/v1{path}", json=body,
                                headers={"Authorization": f"Bearer {token}"}) as answer:
            assert answer.status < 300, await answer.text()
            return await answer.json()


@pytest.mark.parametrize("backend", ["file", "s3"])
async def test_a_revision_uploaded_in_the_browser_is_published_by_another_user_live(
    browser: Browser, settings: Settings, pool: asyncpg.Pool, world: World,
    tmp_path: Path, artifacts_dir: Path, backend: str, request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """file://: the browser PUTs the bytes to the API; S3: it POSTs the presigned form
    straight to the bucket (SeaweedFS answers CORS), and thumbnails come from the bucket."""
    if backend == "s3":
        from tests.storage.s3_server import ACCESS_KEY, BUCKET, REGION, SECRET_KEY

        bucket = request.getfixturevalue("s3_server")
        for name, value in {"STORAGE_URL": f"s3://{BUCKET}/console-{tmp_path.name}",
                            "S3_ENDPOINT_URL": bucket.endpoint_url, "S3_REGION": REGION,
                            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                            "AWS_SECRET_ACCESS_KEY": SECRET_KEY}.items():
            monkeypatch.setenv(name, value)
    site = await _site(world, pool)
    pdf = tmp_path / "A-101 Ground Floor Plan P02.pdf"
    size = _sheet_pdf(pdf)
    assert size > 800_000
    server = Worker(settings, tmp_path)
    server.start()
    try:
        await server.ready()
        drawing = await _api(server.url, site.designer, "POST",
                             f"/projects/{site.project}/drawings",
                             {"number": "A-101", "title": "Ground Floor Plan"})
        p01 = await _api(server.url, site.designer, "POST", f"/drawings/{drawing['id']}/revisions",
                         {"revision": "P01"})
        await _api(server.url, site.pm, "POST", f"/drawing-revisions/{p01['id']}/publish")

        errors: list[str] = []
        designer = await _sign_in(browser, server.url, site.designer, site.project, DESKTOP,
                                  errors)
        manager = await _sign_in(browser, server.url, site.pm, site.project, PHONE, errors)
        sheet = _row(designer, "register", drawing["id"])
        await expect(sheet).to_contain_text("A-101 · Ground Floor Plan")
        await expect(sheet.locator(".current-rev")).to_contain_text("P01")
        await expect(designer.locator("#register-count")).to_have_text("1 of 1 current")

        # The designer issues P02 with its PDF: progress as the bytes go, then the thumbnail.
        await sheet.locator(".sheet-head").click()
        revisions = designer.locator(f"#revisions-{drawing['id']}")
        await expect(revisions.locator(f'li[data-id="{p01["id"]}"]')).to_have_attribute(
            "data-mark", "current")
        await expect(designer.locator("#issue-revision")).to_have_value("P02")
        assert await designer.locator(".publish").count() == 0   # designers never publish
        await designer.set_input_files("#issue-file", str(pdf))
        cdp = await designer.context.new_cdp_session(designer)
        await cdp.send("Network.enable")
        await cdp.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1,
            "uploadThroughput": size // 3})   # about three seconds
        writes: list[str] = []
        designer.on("request", lambda r: writes.append(f"{r.method} {r.url}")
                    if r.method in ("PUT", "POST") else None)
        await designer.click("#issue-form button[type=submit]")
        seen: list[int] = []
        progress = designer.locator("#upload-progress")
        await expect(progress).to_be_visible()
        for _ in range(400):
            if await progress.count() == 0:
                break
            value = int(float(await progress.get_attribute("value") or 0))
            seen.append(value)
            if value >= size:
                break
            await designer.wait_for_timeout(25)
        await cdp.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        assert any(0 < v < size for v in seen), f"no progress between 0 and {size}: {seen[:20]}"
        assert seen == sorted(seen)
        await expect(designer.locator("#upload-status")).to_contain_text(
            "Uploaded A-101 Ground Floor Plan P02.pdf", timeout=15_000)
        p02 = revisions.locator("li.revision").first
        await expect(p02).to_contain_text("P02")
        await expect(p02).to_have_attribute("data-mark", "unpublished")
        thumb = p02.locator("img.thumb")
        await expect(thumb).to_be_visible(timeout=20_000)
        assert await thumb.evaluate("img => img.complete && img.naturalWidth") == 400
        source = await thumb.get_attribute("src") or ""
        if backend == "s3":   # the bytes went to the bucket, and the thumbnail comes from it
            assert f"POST {bucket.endpoint_url}/{BUCKET}" in writes, writes
            assert not any("/content" in w for w in writes), writes
            assert source.startswith(bucket.endpoint_url)
        else:
            assert any(w.startswith("PUT ") and w.endswith("/content") for w in writes), writes
            assert source.startswith("data:image/webp;base64,")
        await designer.screenshot(path=str(artifacts_dir / f"console-register-{backend}.png"),
                                  full_page=True)

        # The manager's page got the new revision live; they publish it there.
        p02_id = await p02.get_attribute("data-id")
        other = _row(manager, "register", drawing["id"])
        await other.locator(".sheet-head").click()
        publish = manager.locator(f'#revisions-{drawing["id"]} li[data-id="{p02_id}"] .publish')
        await expect(publish).to_have_text("Publish P02", timeout=10_000)
        await publish.click()
        await expect(other.locator(".current-rev")).to_contain_text("P02", timeout=10_000)

        # The designer's register follows without a reload: P01 superseded, P02 current,
        # and the sheet's thumbnail is now P02's.
        await expect(revisions.locator(f'li[data-id="{p01["id"]}"]')).to_have_attribute(
            "data-mark", "superseded", timeout=10_000)
        await expect(revisions.locator(f'li[data-id="{p01["id"]}"]')).to_contain_text(
            "Superseded")
        await expect(revisions.locator(f'li[data-id="{p02_id}"]')).to_have_attribute(
            "data-mark", "current")
        await expect(sheet.locator(".current-rev")).to_contain_text("P02")
        await expect(sheet.locator(".sheet-head img.thumb")).to_be_visible(timeout=10_000)
        await expect(designer.locator("#feed")).to_contain_text("Murat Kaya published revision P02")
        assert await pool.fetchval("SELECT count(*) FROM drawing_revisions WHERE drawing_id = $1 "
                                   "AND is_current", drawing["id"]) == 1
        await designer.screenshot(path=str(artifacts_dir / f"console-register-{backend}-live.png"),
                                  full_page=True)
        if backend == "file":
            await _section_shot(designer, "register", artifacts_dir)
        await _fits_a_phone(manager)

        # The client reads the current set: published revisions only, the sheet's
        # thumbnail, no upload form and no Publish.
        reader = await _sign_in(browser, server.url, site.client, site.project, PHONE, errors)
        theirs = _row(reader, "register", drawing["id"])
        await expect(theirs.locator(".sheet-head img.thumb")).to_be_visible(timeout=10_000)
        await theirs.locator(".sheet-head").click()
        await expect(reader.locator(f'#revisions-{drawing["id"]} li')).to_have_count(2)
        assert await reader.locator("#issue-form, .publish").count() == 0
        assert errors == []
    finally:
        await _close_pages(browser)
        server.stop()


async def test_a_large_sheet_goes_up_in_parts_from_the_browser(
    browser: Browser, settings: Settings, pool: asyncpg.Pool, world: World, tmp_path: Path,
) -> None:
    """Over 32 MiB the page sends byte ranges (file://: PUTs to …/content with a
    Content-Range). A dropped connection fails the upload; sent again, the file goes to the
    revision already issued and only the missing parts are sent; then it is ready."""
    site = await _site(world, pool)
    pdf = tmp_path / "A-500 Site Plan C01.pdf"
    filler = os.urandom(33 * 1024 * 1024)
    pdf.write_bytes(b"%PDF-1.4\n%" + filler + b"\n%%EOF\n")
    server = Worker(settings, tmp_path)
    server.start()
    try:
        await server.ready()
        drawing = await _api(server.url, site.pm, "POST", f"/projects/{site.project}/drawings",
                             {"number": "A-500", "title": "Site Plan"})
        errors: list[str] = []
        page = await _sign_in(browser, server.url, site.pm, site.project, DESKTOP, errors)
        ranges: list[str] = []
        page.on("request", lambda r: ranges.append(r.headers.get("content-range", ""))
                if r.method == "PUT" else None)
        puts = 0

        async def drop_the_second(route: Route) -> None:
            nonlocal puts
            puts += 1
            if puts == 2:
                await route.abort("connectionreset")
            else:
                await route.continue_()

        await page.route("**/api/v1/attachments/*/content", drop_the_second)
        await _row(page, "register", drawing["id"]).locator(".sheet-head").click()
        await page.fill("#issue-revision", "C01")
        await page.set_input_files("#issue-file", str(pdf))
        await page.click("#issue-form button[type=submit]")
        await expect(page.locator("#upload-status")).to_contain_text(
            "Not uploaded: The upload was interrupted", timeout=60_000)
        await expect(page.locator("#issue-revision")).to_have_value("C01")
        await page.click("#issue-form button[type=submit]")   # the same file, again
        await expect(page.locator("#upload-status")).to_contain_text(
            "Uploaded A-500 Site Plan C01.pdf", timeout=60_000)
        size, part = pdf.stat().st_size, 8 * 1024 * 1024
        # Part 1, part 2 dropped; then parts 2 to 5 only.
        assert len(ranges) == 6 and ranges[0] == f"bytes 0-{part - 1}/{size}", ranges
        assert ranges[1] == ranges[2] == f"bytes {part}-{2 * part - 1}/{size}", ranges
        assert ranges[-1].endswith(f"-{size - 1}/{size}")
        assert await pool.fetchval("SELECT count(*) FROM drawing_revisions "
                                   "WHERE drawing_id = $1", drawing["id"]) == 1
        rows = await pool.fetch("SELECT status, size, sha256 FROM attachments "
                                "WHERE file_name = $1 AND status = 'ready'", pdf.name)
        assert [(r["size"], r["sha256"]) for r in rows] == [
            (size, hashlib.sha256(pdf.read_bytes()).hexdigest())]
        revision = page.locator(f'#revisions-{drawing["id"]} li.revision').first
        await expect(revision).to_contain_text("C01")
        await expect(revision.locator(".publish")).to_have_text("Publish C01")
        assert errors == []
    finally:
        await _close_pages(browser)
        server.stop()


OUTCOMES = [{"label": "rejected", "status": "rejected"},
            {"label": "revise_and_resubmit", "status": "revise_and_resubmit"},
            {"label": "approved_as_noted", "status": "approved_as_noted"},
            {"label": "approved", "status": "approved"}]


async def _section_shot(page: Page, name: str, artifacts_dir: Path) -> None:
    """A section as it stands (the change's flash played out, no toast over it); also to
    docs/ with FPM_UPDATE_SCREENSHOTS=1."""
    section = page.locator(f"#{name}-section")
    paths = [artifacts_dir / f"console-{name}.png"]
    if os.environ.get("FPM_UPDATE_SCREENSHOTS") == "1":
        paths.append(DOCS / f"console-{name}.png")
    await page.evaluate("document.getElementById('toast').hidden = true")  # no inline style: CSP
    for path in paths:
        await section.screenshot(path=str(path), animations="disabled")
    await page.evaluate("document.getElementById('toast').hidden = false")


async def test_rfis_and_reviews_answered_in_one_browser_arrive_live_in_another(
    browser: Browser, settings: Settings, pool: asyncpg.Pool, world: World, tmp_path: Path,
    artifacts_dir: Path,
) -> None:
    """The manager raises an RFI to the designer; the designer's page shows it live and
    answers; the manager sees the response arrive and makes it the official answer, which
    the designer sees. A two-step review of a drawing: the designer answers the first step
    with an outcome and a comment, and the manager's page moves the ball to them live."""
    site = await _site(world, pool)
    server = Worker(settings, tmp_path)
    server.start()
    try:
        await server.ready()
        late = await _api(server.url, site.designer, "POST", "/rfis", {
            "project_id": str(site.project), "subject": "Ceiling void depth",
            "question": "Is 300 mm enough for the <b>ducts</b>?",
            "distribution": [str(site.pm["id"])]})
        await _api(server.url, site.designer, "POST", f"/rfis/{late['id']}/transitions",
                   {"action": "open"})
        await pool.execute("UPDATE rfis SET due_on = current_date - 3 WHERE id = $1", late["id"])
        template = await _api(server.url, site.pm, "POST", "/review-templates", {
            "project_id": str(site.project), "name": "Submittal", "outcomes": OUTCOMES,
            "steps": [{"name": "Design check", "rule": "all", "days": 3,
                       "reviewers": [{"kind": "user", "ref": str(site.designer["id"])}]},
                      {"name": "Manager approval", "rule": "any", "days": 2,
                       "reviewers": [{"kind": "role", "ref": "project_manager"}]}]})
        review = await _api(server.url, site.pm, "POST", "/reviews", {
            "entity_type": "shop_drawing", "entity_id": str(site.review),
            "template_id": template["id"]})

        errors: list[str] = []
        manager = await _sign_in(browser, server.url, site.pm, site.project, DESKTOP, errors)
        designer = await _sign_in(browser, server.url, site.designer, site.project, PHONE, errors)

        # The log: the late RFI is marked, and it is the manager's to answer.
        old = _row(manager, "rfis", late["id"])
        await expect(old).to_contain_text("RFI-001 · Ceiling void depth")
        await expect(old.locator(".due.overdue")).to_be_visible()
        await expect(old).to_contain_text("Ball in court: You")
        await expect(manager.locator("#rfis-count")).to_have_text("1 open · 1 overdue")

        # The manager raises an RFI to the designer.
        await manager.click("#rfi-new")
        subject = "Reception ceiling height"
        await manager.fill("#rfi-subject", subject)
        question = "The section shows 2.70 m.\nThe plan says 2.85 m: which?"
        await manager.fill("#rfi-question", question)
        await manager.locator("#rfi-distribution label", has_text="Deniz Yılmaz").click()
        await manager.click("#rfi-form button[type=submit]")
        raised = manager.locator("#rfis li.rfi", has_text="RFI-002")
        await expect(raised).to_have_attribute("data-status", "open")
        await expect(raised.locator(".item-title")).to_have_text(f"RFI-002 · {subject}")
        await expect(raised).to_contain_text("Ball in court: Deniz Yılmaz")
        rfi_id = await raised.get_attribute("data-id")

        # The designer's page has it live; they answer it.
        theirs = _row(designer, "rfis", rfi_id)
        await expect(theirs).to_have_attribute("data-status", "open", timeout=10_000)
        await expect(theirs).to_contain_text("Ball in court: You")
        await theirs.locator(".item-head").click()
        await expect(theirs.locator(".question")).to_have_text(question)
        await designer.fill("#rfi-response", "2.85 m: the section is out of date.")
        await designer.click("#rfi-respond button[type=submit]")
        await expect(theirs.locator(".response")).to_have_count(1)

        # The manager sees the response arrive without a reload and makes it official.
        await expect(raised.locator(".item-head")).to_have_attribute("aria-expanded", "true")
        response = raised.locator(".response")
        await expect(response).to_contain_text("2.85 m: the section is out of date.",
                                               timeout=10_000)
        await expect(response).to_contain_text("Deniz Yılmaz")
        await expect(raised.locator(".count")).to_have_text("1 response")
        await response.locator(".make-official").click()
        await expect(raised).to_have_attribute("data-status", "answered")
        await expect(raised).to_contain_text("Ball in court: You (to close)")
        await expect(raised.locator("#rfi-close")).to_be_visible()
        await _section_shot(manager, "rfis", artifacts_dir)

        # ... and the designer sees it answered, the official answer set apart.
        await expect(theirs).to_have_attribute("data-status", "answered", timeout=10_000)
        await expect(theirs.locator(f"#official-{rfi_id}")).to_contain_text(
            "2.85 m: the section is out of date.")
        await expect(designer.locator("#feed")).to_contain_text(
            f"Murat Kaya made a response the official answer to RFI-002 {subject}")

        # Reviews: the drawing's first step is the designer's; the manager sees whose it is.
        mine, watched = _row(designer, "reviews", review["id"]), _row(manager, "reviews",
                                                                       review["id"])
        await expect(watched).to_contain_text("AK-MM-002 · Lobby ceiling")
        await expect(watched).to_contain_text("Ball in court: Deniz Yılmaz")
        await expect(watched.locator('.step[data-step="0"]')).to_have_attribute(
            "data-phase", "current")
        await expect(watched.locator('.step[data-step="1"]')).to_contain_text(
            "Any project manager")
        await expect(watched.locator(".review-answer")).to_have_count(0)
        due = review["tasks"][0]["due_on"]
        await expect(mine.locator(f'.step[data-step="0"] time[datetime="{due}"]')).to_be_visible()
        await expect(designer.locator("#reviews-count")).to_have_text(
            "1 in review · 1 awaiting you")
        answer = mine.locator(".review-answer")
        await expect(answer.locator("button[type=submit]")).to_be_disabled()
        await answer.locator(".review-outcome").select_option("approved_as_noted")
        await answer.locator(".review-comment").fill("Add the access panel <here>")
        await answer.locator("button[type=submit]").click()
        await expect(mine.locator(".review-answer")).to_have_count(0)

        # The manager's page: step 1 answered, the ball in their court, their answer form.
        first = watched.locator('.step[data-step="0"]')
        await expect(first).to_have_attribute("data-phase", "done", timeout=10_000)
        await expect(first).to_contain_text("Approved as noted")
        await expect(first).to_contain_text("“Add the access panel <here>”")
        await expect(watched).to_contain_text("Ball in court: You (any project manager)")
        await expect(mine).to_contain_text("Ball in court: Any project manager")
        await expect(watched.locator(".review-answer")).to_have_count(1)
        await expect(manager.locator("#feed")).to_contain_text(
            "Deniz Yılmaz answered review Submittal — approved as noted")
        await _section_shot(manager, "reviews", artifacts_dir)

        # The manager approves: the review is decided on both pages, and so is the drawing.
        await watched.locator(".review-outcome").select_option("approved")
        await watched.locator(".review-answer button[type=submit]").click()
        await expect(mine).to_have_attribute("data-status", "completed", timeout=10_000)
        await expect(mine.locator(".badge").first).to_have_text("Approved")
        await expect(_row(designer, "drawings", site.review)).to_contain_text("Approved")
        await expect(designer.locator("#reviews-count")).to_have_text("0 in review")
        assert await pool.fetchval("SELECT status FROM shop_drawings WHERE id = $1",
                                   site.review) == "approved"

        # What people write is shown as text, never read as markup.
        await _row(designer, "rfis", late["id"]).locator(".item-head").click()
        await expect(designer.locator(".question")).to_have_text(
            "Is 300 mm enough for the <b>ducts</b>?")
        assert await designer.locator("#rfis b, #reviews b").count() == 0

        await designer.click("#rfi-new")   # the new RFI form fits a phone too
        await _fits_a_phone(designer)
        await designer.locator("#rfis-section").screenshot(
            path=str(artifacts_dir / "console-rfis-phone.png"), animations="disabled")
        assert errors == []
    finally:
        await _close_pages(browser)
        server.stop()


def _read(path: Path | str) -> bytes:
    return Path(path).read_bytes()


async def _download(page: Page, click: str) -> tuple[str, bytes]:
    """Click `click` and take the file the page hands over (fetched with the bearer token,
    saved through a blob: URL): its suggested name and its bytes."""
    async with page.expect_download(timeout=15_000) as event:
        await page.click(click)
    download = await event.value
    assert await download.failure() is None
    return download.suggested_filename, _read(await download.path())


async def test_lists_export_with_their_filters_and_the_weekly_report_downloads(
    browser: Browser, settings: Settings, pool: asyncpg.Pool, world: World, tmp_path: Path,
    artifacts_dir: Path,
) -> None:
    """Export → CSV on the tasks gives the rows the list shows (and only "My tasks" with that
    filter on), Excel gives a workbook; the weekly report runs as a background job whose
    progress the page shows, then the PDF downloads. All under the page's CSP (no error
    logged). A refused report (a bad period, too many exports) is a message, not a break."""
    site = await _site(world, pool)
    server = Worker(settings, tmp_path)
    server.start()
    try:
        await server.ready()
        errors: list[str] = []
        frames: list[str] = []
        page = await _sign_in(browser, server.url, site.pm, site.project, DESKTOP, errors)
        page.on("websocket", lambda ws: ws.on(
            "framereceived", lambda f: frames.append(f) if isinstance(f, str) else None))
        await page.reload()   # the socket again, now watched
        await expect(page.locator("#connection")).to_contain_text("connected", timeout=10_000)

        # Export → CSV: the file holds the rows on screen, with the API's columns.
        await page.click("#tasks-export")
        menu = page.locator("#tasks-export-menu")
        await expect(menu.locator("button")).to_have_text(["CSV", "Excel"])
        shown = set(await page.locator("#tasks li .item-title").all_inner_texts())
        name, body = await _download(page, "#tasks-export-menu .export-csv")
        assert name.startswith("tasks-") and name.endswith(".csv")
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
        assert {"id", "name", "status", "assigned_to", "due_date"} <= set(rows[0])
        assert {r["name"] for r in rows} == shown == {
            "Cut walnut panels", "Fit reception desk", "Order brass trims"}
        desk = next(r for r in rows if r["name"] == "Fit reception desk")
        assert desk["assigned_to"] == str(site.pm["id"]) and desk["status"] == "in_progress"
        await expect(menu).to_have_count(0)
        await expect(page.locator("#toast")).to_contain_text(f"Downloaded tasks as {name}")

        # The list's filter goes with it.
        await page.click("#filter-mine")
        await page.click("#tasks-export")
        _, body = await _download(page, "#tasks-export-menu .export-csv")
        mine = [r["name"] for r in csv.DictReader(io.StringIO(body.decode("utf-8")))]
        assert mine == await page.locator("#tasks li .item-title").all_inner_texts() \
            == ["Fit reception desk"]
        # Overdue is the page's own filter: the menu says the file holds every task.
        await page.click("#filter-overdue")
        await page.click("#tasks-export")
        await expect(page.locator("#tasks-export-menu .note")).to_contain_text(
            "The file holds every task")
        await page.click("#tasks-export")
        await expect(page.locator("#tasks-export-menu")).to_have_count(0)
        await page.click("#filter-all")

        # Excel: a workbook (a zip) of the shop drawings.
        await page.click("#drawings-export")
        name, body = await _download(page, "#drawings-export-menu .export-xlsx")
        assert name.startswith("shop_drawings-") and name.endswith(".xlsx")
        assert body[:2] == b"PK"

        # The weekly report: a background job, its progress shown, then the PDF.
        await page.select_option("#report-paper", "letter")
        async with page.expect_request(lambda r: r.method == "POST"
                                       and r.url.endswith("/api/v1/exports")) as posted:
            async with page.expect_download(timeout=30_000) as event:
                await page.click("#report-run")
                await expect(page.locator("#report-run")).to_have_text("Making the report…")
                await expect(page.locator("#report-status")).to_be_visible()
        assert (await posted.value).post_data_json == {
            "kind": "weekly_report", "format": "pdf",
            "filters": {"project_id": str(site.project), "paper": "letter"}}
        download = await event.value
        pdf = _read(await download.path())
        assert pdf.startswith(b"%PDF") and download.suggested_filename.startswith("weekly-report-")
        status = page.locator("#report-status")
        await expect(status).to_have_attribute("data-status", "saved")
        await expect(status).to_contain_text(f"Downloaded {download.suggested_filename}")
        await expect(page.locator("#report-run")).to_be_enabled()
        job = await pool.fetchrow("SELECT status, done FROM export_jobs WHERE kind = "
                                  "'weekly_report' AND user_id = $1", site.pm["id"])
        assert job is not None and job["status"] == "done"
        # Its progress came over the socket, to this user only.
        progress = [f for f in frames if '"export.progress"' in f]
        assert progress and '"status":"done"' in progress[-1].replace(" ", "")

        # Screenshot: the report done, the tasks' export menu open under it.
        await page.click("#tasks-export")
        await expect(page.locator("#tasks-export-menu")).to_be_visible()
        await page.evaluate("document.getElementById('toast').hidden = true")  # CSP: no style=
        await page.evaluate("document.getElementById('report-section').scrollIntoView()")
        shots = [artifacts_dir / "console-exports.png"]
        if os.environ.get("FPM_UPDATE_SCREENSHOTS") == "1":
            shots.append(DOCS / "console-exports.png")
        top = await page.locator("#report-section").bounding_box()
        end = await page.locator("#tasks-export-menu").bounding_box()
        assert top is not None and end is not None
        clip = {"x": top["x"] - 8, "y": max(0, top["y"] - 8), "width": top["width"] + 16,
                "height": end["y"] + end["height"] - top["y"] + 16}
        for shot in shots:
            await page.screenshot(path=str(shot), clip=clip,  # type: ignore[arg-type]
                                  animations="disabled")
        await page.keyboard.press("Escape")
        await expect(page.locator("#tasks-export-menu")).to_have_count(0)
        await page.evaluate("document.getElementById('toast').hidden = false")

        # Refused: a period the wrong way round (422), too many exports (429): messages.
        await page.fill("#report-from", "2026-03-15")
        await page.fill("#report-to", "2026-03-09")
        await page.click("#report-run")
        await expect(page.locator("#message.error")).to_contain_text(
            "Could not start the weekly report")
        await expect(page.locator("#report-run")).to_be_enabled()

        async def busy(route: Route) -> None:
            await route.fulfill(status=429, content_type="application/problem+json",
                                headers={"Retry-After": "30"},
                                body='{"type": "about:blank", "title": "Too Many Requests", '
                                     '"status": 429, "code": "too_many_exports", "detail": '
                                     '"At most 2 exports may be queued or running at once"}')

        await page.route("**/api/v1/exports", busy)
        await page.fill("#report-from", "")
        await page.fill("#report-to", "")
        await page.click("#report-run")
        await expect(page.locator("#message.error")).to_have_text(
            "Could not start the weekly report: At most 2 exports may be queued or running "
            "at once. Try again in 30 s.×")
        await page.route("**/api/v1/tasks?*", busy)
        await page.click("#tasks-export")
        await page.click("#tasks-export-menu .export-xlsx")
        await expect(page.locator("#message.error")).to_contain_text(
            "Could not export tasks: At most 2 exports")
        await expect(page.locator("#tasks li")).to_have_count(3)   # the page is whole
        assert errors == []
    finally:
        await _close_pages(browser)
        server.stop()


async def test_a_large_list_becomes_a_job_and_its_file_comes_from_the_bucket(
    browser: Browser, settings: Settings, pool: asyncpg.Pool, world: World, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, s3_server: Any,
) -> None:
    """A service that makes large lists jobs (EXPORT_SYNC_MAX_ROWS) answers Export with 202:
    the page follows the job (its rows out of the total it counted first) and downloads its
    file; in S3 that is the bucket's short-lived link (asked for as JSON, so the bearer token
    never goes to the bucket)."""
    from tests.storage.s3_server import ACCESS_KEY, BUCKET, REGION, SECRET_KEY

    for name, value in {"STORAGE_URL": f"s3://{BUCKET}/console-{tmp_path.name}",
                        "S3_ENDPOINT_URL": s3_server.endpoint_url, "S3_REGION": REGION,
                        "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                        "EXPORT_SYNC_MAX_ROWS": "2"}.items():
        monkeypatch.setenv(name, value)
    site = await _site(world, pool)
    server = Worker(settings, tmp_path)
    server.start()
    try:
        await server.ready()
        errors: list[str] = []
        page = await _sign_in(browser, server.url, site.pm, site.project, PHONE, errors)
        links: list[str] = []
        page.on("request", lambda r: links.append(r.url) if "/download" in r.url else None)
        await page.click("#tasks-export")
        await _fits_a_phone(page)
        name, body = await _download(page, "#tasks-export-menu .export-csv")
        assert name.startswith("tasks-") and name.endswith(".csv")
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
        assert sorted(r["name"] for r in rows) == sorted(
            await page.locator("#tasks li .item-title").all_inner_texts())
        assert len(links) == 1 and links[0].startswith(f"{server.url}/api/v1/exports/")
        job = await pool.fetchrow("SELECT kind, status, rows FROM export_jobs WHERE user_id = $1",
                                  site.pm["id"])
        assert job is not None and dict(job) == {"kind": "tasks", "status": "done", "rows": 3}
        # The job counted its rows first: the page says how many the file holds.
        await expect(page.locator("#toast")).to_contain_text(
            f"Downloaded tasks as {name} (3 rows)")
        assert errors == []
    finally:
        await _close_pages(browser)
        server.stop()
