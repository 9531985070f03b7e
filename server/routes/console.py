"""The live project console: one static page (no build step) and its local assets."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from server.errors import NotFound
from server.http import SECURITY_HEADERS
from server.keys import SETTINGS
from storage.settings import StorageSettings

routes = web.RouteTableDef()

STATIC = Path(__file__).resolve().parent.parent / "static"
# Only these files are served: no directory walking, no guessing. The console is ES
# modules (no build step) importing each other and the vendored Preact and htm.
JS, CSS = "text/javascript", "text/css"
ASSETS = {
    **{f"console/{name}.js": JS for name in (
        "main", "store", "html", "labels", "sentences", "api", "data", "live", "actions",
        "chart", "tasks", "workflow", "activity", "register", "drawing-register", "uploads",
        "rfis", "rfi-log", "reviews", "review-list", "exports", "export-menu",
        "procurement", "schedule", "diaries", "site-diary", "snags", "snag-pins")},
    "console/app.css": CSS,
    "vendor/socket.io.min.js": JS,   # socket.io-client 4.8.4, MIT (socket.io-client.LICENSE)
    "vendor/preact.mjs": JS,         # preact 11.2.0, MIT (preact.LICENSE)
    "vendor/preact-hooks.mjs": JS,   # preact 11.2.0 hooks, MIT (preact.LICENSE)
    "vendor/htm.mjs": JS,            # htm 3.1.1, Apache-2.0 (htm.LICENSE)
}


def storage_origins(storage: StorageSettings) -> list[str]:
    """Where the browser sends and reads files itself: the bucket (S3: presigned POST forms,
    part PUTs and short-lived thumbnail links); nothing with file:// (all under /api)."""
    if storage.kind != "s3" or not storage.bucket:
        return []
    if storage.endpoint_url:
        endpoint = urlsplit(storage.endpoint_url)
        origins = [f"{endpoint.scheme}://{endpoint.netloc}"]
        if storage.addressing_style != "path":
            origins.append(f"{endpoint.scheme}://{storage.bucket}.{endpoint.netloc}")
        return origins
    region = storage.region
    return [f"https://{storage.bucket}.s3.{region}.amazonaws.com",
            f"https://{storage.bucket}.s3.amazonaws.com", f"https://s3.{region}.amazonaws.com"]


def page_policy(storage: StorageSettings) -> str:
    """The page's Content-Security-Policy: the API's, with the bucket allowed for uploads
    (connect-src) and thumbnails (img-src) when files live in S3."""
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    extra = " ".join(storage_origins(storage))
    if not extra:
        return policy
    return (policy.replace("img-src 'self' data:", f"img-src 'self' data: {extra}")
                  .replace("connect-src 'self' ws: wss:", f"connect-src 'self' ws: wss: {extra}"))


@routes.get("/")
async def console_page(request: web.Request) -> web.Response:
    """The console page (signs in through the API)."""
    policy = page_policy(request.app[SETTINGS].storage)
    return web.Response(text=(STATIC / "console" / "index.html").read_text(),
                        content_type="text/html",
                        headers={"Cache-Control": "no-cache", "Content-Security-Policy": policy})


@routes.get("/static/{path:.+}")
async def console_asset(request: web.Request) -> web.Response:
    """A script or style of the console page."""
    path = request.match_info["path"]
    if path not in ASSETS:
        raise NotFound("No such file")
    return web.Response(body=(STATIC / path).read_bytes(), content_type=ASSETS[path],
                        headers={"Cache-Control": "public, max-age=300"})
