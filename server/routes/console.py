"""The live project console: one static page (no build step) and its local assets."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from server.errors import NotFound

routes = web.RouteTableDef()

STATIC = Path(__file__).resolve().parent.parent / "static"
# Only these files are served: no directory walking, no guessing. The console is ES
# modules (no build step) importing each other and the vendored Preact and htm.
JS, CSS = "text/javascript", "text/css"
ASSETS = {
    **{f"console/{name}.js": JS for name in (
        "main", "store", "html", "labels", "sentences", "api", "data", "live", "actions",
        "chart", "tasks", "workflow", "activity")},
    "console/app.css": CSS,
    "vendor/socket.io.min.js": JS,   # socket.io-client 4.8.4, MIT (socket.io-client.LICENSE)
    "vendor/preact.mjs": JS,         # preact 11.2.0, MIT (preact.LICENSE)
    "vendor/preact-hooks.mjs": JS,   # preact 11.2.0 hooks, MIT (preact.LICENSE)
    "vendor/htm.mjs": JS,            # htm 3.1.1, Apache-2.0 (htm.LICENSE)
}


@routes.get("/")
async def console_page(request: web.Request) -> web.Response:
    """The console page (signs in through the API)."""
    return web.Response(text=(STATIC / "console" / "index.html").read_text(),
                        content_type="text/html", headers={"Cache-Control": "no-cache"})


@routes.get("/static/{path:.+}")
async def console_asset(request: web.Request) -> web.Response:
    """A script or style of the console page."""
    path = request.match_info["path"]
    if path not in ASSETS:
        raise NotFound("No such file")
    return web.Response(body=(STATIC / path).read_bytes(), content_type=ASSETS[path],
                        headers={"Cache-Control": "public, max-age=300"})
