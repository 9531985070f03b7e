"""Plan material specifications, and every scope item link the export asks for."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from importer import mapping as m
from importer.plan import Ctx, Ref, Row, stamps, unique_records
from importer.plan_drawings import person
from importer.plan_projects import project_of
from importer.report import DROPPED, FIXED, UNLINKED, WARNING

SPEC_FIELDS = frozenset({
    "id", "itemId", "description", "category", "material", "finish", "hardware",
    "manufacturer", "supplierName", "supplierContact", "supplierPhone", "supplierEmail",
    "quantity", "unit", "unitPrice", "currency", "leadTime", "leadTimeUnit", "status",
    "approvedBy", "approvedById", "approvedDate", "projectId", "scopeItemIds", "shopDrawingIds",
    "specifications", "compliance", "deliveryInfo", "costBreakdown", "notes", "createdAt",
    "updatedAt"})
# Free-form parts of a spec, kept whole in the `specification` jsonb under these keys.
FREE_FORM = ("specifications", "compliance", "deliveryInfo", "costBreakdown", "hardware")
TARGET_COLUMN = {"tasks": "task_id", "shop_drawings": "shop_drawing_id",
                 "material_specs": "material_spec_id"}
FILE_OF = {"tasks": "tasks", "shop_drawings": "shopDrawings",
           "material_specs": "materialSpecifications"}


def _specification(ctx: Ctx, legacy: str, project: Ref, r: dict[str, Any]) -> dict[str, Any]:
    spec = {k: r[k] for k in FREE_FORM if r.get(k) not in (None, "", {}, [])}
    numbers = []
    for drawing in r.get("shopDrawingIds") or []:
        ref = ctx.ref("shop_drawings", str(drawing))
        if ref is None or ref.project_id != project.id:
            ctx.report.issue("materialSpecifications", legacy, "shopDrawingIds", UNLINKED,
                             f"drawing {drawing} is missing or in another project; not kept")
        else:
            numbers.append(ref.name)
    if numbers:
        # No spec-drawing table: the drawing numbers are kept for people to read.
        spec["shop_drawings"] = numbers
    return spec


def plan_specs(ctx: Ctx, records: list[dict[str, Any]]) -> None:
    file = "materialSpecifications"
    for legacy, r in unique_records(ctx, file, records):
        project = project_of(ctx, file, legacy, r.get("projectId"))
        if project is None:
            continue
        description = m.text(r.get("description"), 100000)
        if not description:
            ctx.skip(file, legacy, "description", "no description")
            continue
        status = ctx.take(file, legacy, "status", m.map_spec_status(r.get("status")))
        ctx.report.mapped(file, "status", r.get("status"), status)
        currency = (m.text(r.get("currency")) or "TRY").upper()
        if len(currency) != 3 or not currency.isalpha():
            ctx.report.issue(file, legacy, "currency", FIXED, f"{currency!r} is not a currency "
                             "code; set to TRY (the legacy system's currency)")
            currency = "TRY"
        qty = ctx.take(file, legacy, "quantity", m.parse_decimal(r.get("quantity"), 3))
        cost = ctx.take(file, legacy, "unitPrice", m.parse_decimal(r.get("unitPrice")))
        approver = person(ctx, file, legacy, "approvedById", "approvedBy", r)
        row_id = ctx.row_id("material_specs", legacy)
        ctx.add(Row("material_specs", ("legacy", legacy), {
            "id": row_id, "org_id": ctx.org_id, "project_id": project.id, "legacy_id": legacy,
            "code": legacy[:100], "description": description,
            **{col: m.text(r.get(src)) for col, src in (
                ("category", "category"), ("material", "material"), ("finish", "finish"),
                ("manufacturer", "manufacturer"), ("supplier_name", "supplierName"),
                ("supplier_contact", "supplierContact"), ("supplier_phone", "supplierPhone"),
                ("supplier_email", "supplierEmail"), ("notes", "notes"))},
            "quantity": qty,
            "unit": ctx.take(file, legacy, "unit", m.normalise_unit(r.get("unit"))),
            "unit_cost": cost, "currency": currency,
            "total_cost": (qty * cost).quantize(Decimal("0.01")) if qty is not None
            and cost is not None else None,
            "lead_time_days": ctx.take(file, legacy, "leadTime", m.lead_time_days(
                r.get("leadTime"), r.get("leadTimeUnit"))),
            "status": status, "approved_by": approver.id if approver else None,
            "approved_at": ctx.take(file, legacy, "approvedDate",
                                    m.parse_datetime(r.get("approvedDate"))),
            "created_by": ctx.actor_id, "specification": _specification(ctx, legacy, project, r),
            **stamps(ctx, file, legacy, r)}, file, legacy))
        ctx.remember("material_specs", legacy, Ref(row_id, project.id, name=legacy,
                                                   extra={"unit_cost": cost}))
        for scope in r.get("scopeItemIds") or []:
            ctx.link_requests.append((file, legacy, "scopeItemIds", str(scope), "material_specs",
                                      legacy))
        ctx.leftovers(file, r, SPEC_FIELDS | {"itemId"})
        if r.get("itemId") not in (None, r["id"]):
            ctx.report.issue(file, legacy, "itemId", DROPPED,
                             f"itemId {r['itemId']!r} differs from id; the id is kept")


def plan_links(ctx: Ctx) -> None:
    """Scope item <-> task / drawing / spec links, same project only, once per pair."""
    seen: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for file, record, fld, scope_legacy, kind, target_legacy in ctx.link_requests:
        scope = ctx.ref("scope_items", scope_legacy)
        target = ctx.ref(kind, target_legacy)
        if scope is None or target is None:
            missing = scope_legacy if scope is None else f"{FILE_OF[kind]} {target_legacy}"
            ctx.report.issue(file, record, fld, UNLINKED,
                             f"{missing} is neither in the export nor in the database; "
                             "not linked")
            continue
        _price_check(ctx, kind, target_legacy, target, scope_legacy, scope)
        if scope.project_id != target.project_id:
            ctx.report.issue(file, record, fld, UNLINKED, (
                f"{scope_legacy} belongs to project {ctx.project_label(scope.project_id)}, "
                f"{FILE_OF[kind]} {target_legacy} to project "
                f"{ctx.project_label(target.project_id)}; not linked"))
            continue
        if (scope.id, target.id) in seen:
            continue
        seen.add((scope.id, target.id))
        key = (scope.id, target.id)
        existing = ctx.existing.links.get(key)
        values = {"id": existing["id"] if existing else uuid.uuid4(), "org_id": ctx.org_id,
                  "project_id": scope.project_id, "scope_item_id": scope.id,
                  "task_id": None, "shop_drawing_id": None, "material_spec_id": None}
        values[TARGET_COLUMN[kind]] = target.id
        ctx.add(Row("item_links", key, values))


def _price_check(ctx: Ctx, kind: str, legacy: str, target: Ref, scope_legacy: str,
                 scope: Ref) -> None:
    if kind != "material_specs":
        return
    cost, price = target.extra.get("unit_cost"), scope.extra.get("unit_price")
    if cost is not None and price is not None and cost != price and not target.extra.get(
            f"checked:{scope_legacy}"):
        target.extra[f"checked:{scope_legacy}"] = True
        ctx.report.issue("materialSpecifications", legacy, "unitPrice", WARNING,
                         f"unit price {cost} differs from {scope_legacy}'s {price}; both kept")
