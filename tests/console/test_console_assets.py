"""The console's static files: what the page and its ES modules load is exactly what the
allow-list serves (a module missing from it breaks the page with no build step to notice),
with the content types a browser needs under the strict CSP; nothing else is served."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from server.http import SECURITY_HEADERS
from server.routes.console import ASSETS, STATIC, page_policy
from storage.settings import StorageSettings

IMPORT = re.compile(r'''(?:import|export)\s*(?:[^"';]*?\sfrom\s*)?["']([^"']+)["']''')
MODULES = sorted(p for p in ASSETS
                 if p.endswith((".js", ".mjs")) and p != "vendor/socket.io.min.js")


def _imports(path: str) -> list[str]:
    """Every module a module imports, as a path under static/."""
    base = path.rsplit("/", 1)[0]
    found = []
    for spec in IMPORT.findall((STATIC / path).read_text()):
        assert spec.startswith(("./", "../")), f"{path} imports {spec!r}: only relative paths load"
        parts = base.split("/")
        for piece in spec.split("/"):
            if piece == "..":
                parts.pop()
            elif piece != ".":
                parts.append(piece)
        found.append("/".join(parts))
    return found


def test_every_module_the_page_loads_is_served_and_every_served_file_exists() -> None:
    page = (STATIC / "console" / "index.html").read_text()
    loaded = set(re.findall(r'(?:src|href)="/static/([^"]+)"', page))
    assert loaded == {"console/app.css", "vendor/socket.io.min.js", "console/main.js"}
    reached, todo = set(loaded), ["console/main.js"]
    while todo:
        for target in _imports(todo.pop()):
            assert target in ASSETS, f"{target} is imported but not in the allow-list"
            if target not in reached:
                reached.add(target)
                todo.append(target)
    assert set(ASSETS) == reached, f"listed but never loaded: {set(ASSETS) - reached}"
    assert all((STATIC / path).is_file() for path in ASSETS)
    assert set(MODULES) <= reached


def test_the_page_has_no_inline_script_or_style_for_the_csp_to_refuse() -> None:
    page = (STATIC / "console" / "index.html").read_text()
    assert re.findall(r"<script(?![^>]*\ssrc=)[^>]*>", page) == []
    assert " style=" not in page and "<style" not in page
    for path in MODULES:  # no eval-like code either (script-src has no 'unsafe-eval')
        text = (STATIC / path).read_text()
        assert "eval(" not in text and "new Function" not in text, path


async def test_assets_are_served_with_their_types_and_nothing_else(
        client: TestClient[Any, Any]) -> None:
    page = await client.get("/")
    assert page.status == 200 and page.content_type == "text/html"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    for path, content_type in ASSETS.items():
        answer = await client.get(f"/static/{path}")
        assert answer.status == 200, path
        assert answer.content_type == content_type, path
        assert await answer.read() == (STATIC / path).read_bytes()
    for path in ("vendor/preact.LICENSE", "console/index.html",
                 "docs/viewer.js", "console/", "vendor/"):
        answer = await client.get(f"/static/{path}")
        assert answer.status == 404, path


def test_the_page_may_reach_the_bucket_when_files_live_in_s3() -> None:
    """Browser uploads go straight to the bucket (presigned POST) and thumbnails come from
    short-lived links to it: the page's CSP names it, and nothing else, in connect-src and
    img-src; with file:// the page's policy is the API's own."""
    assert page_policy(StorageSettings()) == SECURITY_HEADERS["Content-Security-Policy"]
    local = page_policy(StorageSettings(kind="s3", bucket="fpm", addressing_style="path",
                                        endpoint_url="http://127.0.0.1:8333"))
    assert "connect-src 'self' ws: wss: http://127.0.0.1:8333;" in local
    assert "img-src 'self' data: http://127.0.0.1:8333;" in local
    assert "script-src 'self';" in local and "default-src 'self';" in local
    aws = page_policy(StorageSettings(kind="s3", bucket="fpm", region="eu-central-1"))
    assert "https://fpm.s3.eu-central-1.amazonaws.com" in aws.split("connect-src")[1]


async def test_the_page_is_served_with_its_policy(client: TestClient[Any, Any]) -> None:
    page = await client.get("/")
    assert page.headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]
