"""The live project console: one static page (no build step) and its local assets."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from server.errors import NotFound

routes = web.RouteTableDef()

STATIC = Path(__file__).resolve().parent.parent / "static"
# Only these files are served: no directory walking, no guessing.
ASSETS = {
    "console/app.js": "text/javascript",
    "console/app.css": "text/css",
    "vendor/socket.io.min.js": "text/javascript",
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
