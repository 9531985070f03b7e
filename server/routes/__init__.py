"""One route module per resource; `ROUTE_MODULES` is the list `create_app` mounts."""

from __future__ import annotations

from types import ModuleType

from server.routes import (
    audit,
    auth,
    clients,
    docs,
    health,
    members,
    metrics,
    projects,
    tasks,
    users,
)

ROUTE_MODULES: tuple[ModuleType, ...] = (
    health, metrics, docs, auth, users, clients, projects, members, tasks, audit,
)
