"""One route module per resource; `ROUTE_MODULES` is the list `create_app` mounts."""

from __future__ import annotations

from types import ModuleType

from server.routes import (
    admin_stats,
    attachments,
    audit,
    auth,
    calendar,
    clients,
    comments,
    console,
    docs,
    drawings,
    health,
    logs,
    material_specs,
    members,
    metrics,
    notifications,
    organization_logo,
    projects,
    reports,
    reviews,
    rfis,
    scope_groups,
    scope_items,
    search,
    shop_drawings,
    tasks,
    transmittals,
    users,
)

ROUTE_MODULES: tuple[ModuleType, ...] = (
    health, metrics, console, docs, auth, users, clients, projects, members, tasks, scope_groups,
    scope_items, shop_drawings, material_specs, comments, attachments, drawings, transmittals,
    notifications, audit, search, admin_stats, calendar,
    reviews, rfis, reports, organization_logo, logs,
)
