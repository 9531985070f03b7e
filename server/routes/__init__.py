"""One route module per resource; `ROUTE_MODULES` is the list `create_app` mounts."""

from __future__ import annotations

from types import ModuleType

from server.routes import (
    comments,
    health,
    material_specs,
    notifications,
    scope_groups,
    scope_items,
    shop_drawings,
)

ROUTE_MODULES: tuple[ModuleType, ...] = (
    health,
    scope_groups,
    scope_items,
    shop_drawings,
    material_specs,
    comments,
    notifications,
)
