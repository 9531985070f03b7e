"""Scope readiness (pure): a scope item is ready for production when every linked shop
drawing is approved (or approved as noted) and every linked material spec is delivered
(workflow state `delivered` or `used`, or delivery status `delivered` or `received`).
An item with no linked drawing or spec has nothing blocking it and is ready.

The database keeps the same predicate as `scope_items.production_ready` (the trigger of
migration 0031); tests hold the two to each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

READY_DRAWINGS = frozenset({"approved", "approved_as_noted"})
DELIVERED_STATES = frozenset({"delivered", "used"})
DELIVERED_STATUSES = frozenset({"delivered", "received"})


@dataclass(frozen=True)
class Linked:
    """A linked record as readiness sees it: `kind` shop_drawing or material_spec."""

    kind: str
    id: str
    status: str
    delivery_status: str | None = None


def drawing_ready(status: str) -> bool:
    return status in READY_DRAWINGS


def spec_delivered(status: str, delivery_status: str | None) -> bool:
    return status in DELIVERED_STATES or delivery_status in DELIVERED_STATUSES


def blocking(linked: Iterable[Linked]) -> list[Linked]:
    """The linked records that keep the item from production."""
    out = []
    for record in linked:
        if record.kind == "shop_drawing":
            if not drawing_ready(record.status):
                out.append(record)
        elif not spec_delivered(record.status, record.delivery_status):
            out.append(record)
    return out


def share(ready: int, total: int) -> float:
    """The project's share of ready items, 0..1 (1 for a project without items)."""
    return 1.0 if total == 0 else round(ready / total, 4)
