"""One route module per resource; `ROUTE_MODULES` is the list `create_app` mounts."""

from __future__ import annotations

from types import ModuleType

from server.routes import audit, clients, docs, health, members, projects, tasks

ROUTE_MODULES: tuple[ModuleType, ...] = (
    health, docs, clients, projects, members, tasks, audit,
)
