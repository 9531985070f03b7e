"""How a list route says it can be exported (read by the OpenAPI document and its tests)."""

from __future__ import annotations

from typing import Any

EXPORT_ATTR = "__export__"  # the entity a list route exports, set by `exportable`
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = {"csv": CSV, "xlsx": XLSX}


def export_entity(handler: Any) -> str | None:
    """The entity `exportable` marked the handler with, looking through wrappers."""
    while handler is not None:
        entity = getattr(handler, EXPORT_ATTR, None)
        if isinstance(entity, str):
            return entity
        handler = getattr(handler, "__wrapped__", None)
    return None
