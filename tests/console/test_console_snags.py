"""Snags on the drawing in a real browser (Chromium, as tests/console/test_console_browser.py):
pins over the sheet's thumbnail where the snags are (their boxes' centres checked against
the x, y fractions of the image's box, at a phone's and a desktop's width), a pin opening its
snag, a new pin arriving live. Screenshot: tests/artifacts/console-pins.png (with
FPM_UPDATE_SCREENSHOTS=1 also docs/console-pins.png).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from playwright.async_api import Browser, Page, expect

from server.config import Settings
from tests.conftest import PASSWORD, World
from tests.console.test_console_browser import (
    DESKTOP,
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
from tests.console.test_console_site import _shot
from tests.realtime.conftest import Worker

__all__ = ["browser"]   # the fixture, shared


def _sheet_png() -> bytes:
    """A landscape sheet (3:2) with a grid, as an architect's plan would be scanned."""
    from PIL import Image, ImageDraw

    sheet = Image.new("RGB", (1200, 800), "white")
    draw = ImageDraw.Draw(sheet)
    for x in range(0, 1200, 100):
        draw.line([(x, 0), (x, 800)], fill=(170, 190, 210), width=2)
    for y in range(0, 800, 100):
        draw.line([(0, y), (1200, y)], fill=(170, 190, 210), width=2)
    draw.rectangle([150, 150, 1050, 650], outline=(30, 40, 60), width=8)
    out = io.BytesIO()
    sheet.save(out, "PNG")
    return out.getvalue()


async def _attach(url: str, user: dict[str, Any], project: Any, revision: str,
                  body: bytes) -> None:
    """Declare, send and complete a sheet's file on a drawing revision (file:// storage)."""
    async with aiohttp.ClientSession() as http:
        signin = await http.post(f"{url}/api/v1/auth/login",
                                 json={"email": user["email"], "password": PASSWORD})
        auth = {"Authorization": f"Bearer {(await signin.json())['access_token']}"}
        answer = await http.post(f"{url}/api/v1/attachments", headers=auth, json={
            "project_id": str(project), "entity_type": "drawing_revision", "entity_id": revision,
            "file_name": "A-201.png", "content_type": "image/png", "size": len(body)})
        created = await answer.json()
        assert answer.status == 201, created
        upload = created["upload"]
        assert upload["method"] == "PUT"
        sent = await http.put(f"{url}{upload['url']}", data=body,
                              headers={**auth, **upload["headers"]})
        assert sent.status in (200, 204), await sent.text()
        done = await http.post(f"{url}/api/v1/attachments/{created['id']}/complete",
                               headers=auth)
        assert done.status == 200, await done.text()


PINS = [("Chipped skirting", 0.25, 0.4), ("Door closer missing", 0.8, 0.15),
        ("Paint <script>x</script> run", 0.5, 0.9)]


async def _pins_where_they_belong(page: Page, snags: dict[str, tuple[float, float]]) -> None:
    """Each pin's centre on screen is its x, y fraction of the sheet image's box."""
    sheet = page.locator("#snag-sheet img.sheet-image")
    await expect(sheet).to_be_visible(timeout=20_000)
    await page.wait_for_function(
        "() => { const i = document.querySelector('#snag-sheet img'); "
        "return i && i.complete && i.naturalWidth > 0; }")
    box = await sheet.bounding_box()
    assert box is not None and box["width"] > 200
    # The image keeps the sheet's 3:2 shape: a fraction of it is a fraction of the sheet.
    assert abs(box["width"] / box["height"] - 1.5) < 0.02, box
    for snag_id, (x, y) in snags.items():
        pin = page.locator(f'#snag-sheet .pin[data-id="{snag_id}"]')
        at = await pin.bounding_box()
        assert at is not None, snag_id
        centre = (at["x"] + at["width"] / 2, at["y"] + at["height"] / 2)
        want = (box["x"] + x * box["width"], box["y"] + y * box["height"])
        assert abs(centre[0] - want[0]) <= 1.5 and abs(centre[1] - want[1]) <= 1.5, (
            snag_id, centre, want, box)


async def test_snags_are_pinned_on_their_sheet_and_a_pin_opens_its_snag(
    browser: Browser, settings: Settings, pool: asyncpg.Pool, world: World, tmp_path: Path,
    artifacts_dir: Path,
) -> None:
    """Snags pinned on a published sheet show where they are on its thumbnail, at both
    widths (the pins' boxes centred on their fractions of the image's box); clicking a pin
    opens its snag; a snag pinned in one browser appears on the other's sheet live."""
    site = await _site(world, pool)
    server = Worker(settings, tmp_path)
    server.start()
    try:
        await server.ready()
        drawing = await _api(server.url, site.designer, "POST",
                             f"/projects/{site.project}/drawings",
                             {"number": "A-201", "title": "Lobby plan"})
        p01 = await _api(server.url, site.designer, "POST", f"/drawings/{drawing['id']}/revisions",
                         {"revision": "P01"})
        await _attach(server.url, site.designer, site.project, p01["id"], _sheet_png())
        await _api(server.url, site.pm, "POST", f"/drawing-revisions/{p01['id']}/publish")
        placed: dict[str, tuple[float, float]] = {}
        for title, x, y in PINS:
            snag = await _api(server.url, site.pm, "POST", "/punch-items", {
                "project_id": str(site.project), "title": title, "trade": "Finishes",
                "description": f"{title}: see the photo", "location": "Lobby",
                "assignee_user_ids": [str(site.designer["id"])],
                "pin": {"drawing_revision_id": p01["id"], "x": x, "y": y}})
            placed[snag["id"]] = (x, y)

        errors: list[str] = []
        office = await _sign_in(browser, server.url, site.pm, site.project, DESKTOP, errors)
        field = await _sign_in(browser, server.url, site.designer, site.project, PHONE, errors)
        for page in (office, field):
            await expect(page.locator("#snags li.snag")).to_have_count(3)
            await expect(page.locator("#snag-drawing")).to_contain_text(
                "A-201 · Lobby plan · P01 (3 pins)")
            await page.locator("#snags-section").scroll_into_view_if_needed()
            await _pins_where_they_belong(page, placed)
        # The user's text is text, on the pin and in the list.
        third = next(i for i, (t, _, _) in enumerate(PINS) if "<script>" in t)
        third_id = list(placed)[third]
        await expect(_row(office, "snags", third_id).locator(".item-title")).to_have_text(
            "#3 · Paint <script>x</script> run")
        assert await office.locator("#snags-section script").count() == 0

        # A pin opens its snag.
        first_id = next(iter(placed))
        await office.click(f'#snag-sheet .pin[data-id="{first_id}"]')
        await expect(_row(office, "snags", first_id).locator(".item-head")).to_have_attribute(
            "aria-expanded", "true")
        await expect(office.locator(f"#snag-{first_id}")).to_contain_text(
            "Chipped skirting: see the photo")
        await expect(office.locator(f'#snag-sheet .pin[data-id="{first_id}"]')).to_have_attribute(
            "aria-pressed", "true")
        await field.click(f'#snag-sheet .pin[data-id="{list(placed)[1]}"]')
        await expect(field.locator(f"#snag-{list(placed)[1]}")).to_contain_text("Lobby")
        await _fits_a_phone(field)

        # Pinned in one browser's time, shown on the other's sheet without a reload.
        late = await _api(server.url, site.pm, "POST", "/punch-items", {
            "project_id": str(site.project), "title": "Scratch on glass",
            "pin": {"drawing_revision_id": p01["id"], "x": 0.1, "y": 0.75}})
        placed[late["id"]] = (0.1, 0.75)
        await expect(field.locator("#snag-sheet .pin")).to_have_count(4, timeout=10_000)
        await expect(field.locator("#feed")).to_contain_text(
            "Murat Kaya raised snag #4 Scratch on glass")
        await _pins_where_they_belong(field, placed)

        # Export: the snag list as a file, like every list.
        await office.click("#snags-export")
        _, body = await _download(office, "#snags-export-menu .export-csv")
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
        assert sorted(r["title"] for r in rows) == sorted([*(t for t, _, _ in PINS),
                                                           "Scratch on glass"])

        await office.locator(f'#snag-sheet .pin[data-id="{late["id"]}"]').click()
        await _shot(office, "snags", "pins", artifacts_dir)
        assert errors == []
    finally:
        await _close_pages(browser)
        server.stop()
