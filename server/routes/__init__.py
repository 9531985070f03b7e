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
    exports,
    health,
    logs,
    material_specs,
    members,
    metrics,
    notification_preferences,
    notifications,
    organization_logo,
    procurement,
    projects,
    punch_items,
    reports,
    reviews,
    rfis,
    scope_groups,
    scope_items,
    search,
    shop_drawings,
    site_diaries,
    tasks,
    transmittals,
    users,
)

ROUTE_MODULES: tuple[ModuleType, ...] = (
    health, metrics, console, docs, auth, users, clients, projects, members, tasks, scope_groups,
    scope_items, shop_drawings, material_specs, comments, attachments, drawings, transmittals,
    notifications, audit, search, admin_stats, calendar,
    reviews, rfis, reports, organization_logo, exports, procurement, site_diaries,
    notification_preferences, punch_items, logs,
)
