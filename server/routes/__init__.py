"""One route module per resource; `ROUTE_MODULES` is the list `create_app` mounts."""

from __future__ import annotations

from types import ModuleType

from server.routes import auth, health, metrics, users

ROUTE_MODULES: tuple[ModuleType, ...] = (health, metrics, auth, users)
