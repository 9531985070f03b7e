"""One route module per resource; `ROUTE_MODULES` is the list `create_app` mounts."""

from __future__ import annotations

from types import ModuleType

from server.routes import health, search

ROUTE_MODULES: tuple[ModuleType, ...] = (health, search)
