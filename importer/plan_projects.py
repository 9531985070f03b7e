"""Plan projects, their members, and the bill of works (scope groups and scope items)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from importer import mapping as m
from importer.plan import Ctx, Ref, Row, append_notes, stamps, unique_records
from importer.report import ADDED, FIXED, UNLINKED, WARNING

PROJECT_FIELDS = frozenset({
    "id", "name", "type", "description", "status", "priority", "clientId", "client",
    "clientName", "budget", "location", "startDate", "endDate", "projectManager",
    "teamMembers", "progress", "createdAt", "updatedAt"})
SCOPE_FIELDS = frozenset({
    "id", "description", "name", "quantity", "unitPrice", "unit", "category", "group",
    "notes", "projectId", "totalPrice", "progress", "status", "shopDrawingId",
    "materialSpecId", "actualStartDate", "estimatedEndDate", "actualEndDate", "dependencies",
    "blockingIssue", "createdAt", "updatedAt"})


def _client(ctx: Ctx, legacy: str, r: dict[str, Any]) -> uuid.UUID | None:
    """The project's client: by id (trusted over clientName), else by an exact name."""
    file, given = "projects", r.get("clientName")
    ref_id = ctx.take(file, legacy, "clientId", m.legacy_ref(r.get("clientId")))
    if ref_id is None:
        raw = r.get("clientId", r.get("client"))
        how = ("has no clientId" if "clientId" not in r and "client" not in r
               else "has clientId null" if raw is None else f"has an empty client ({raw!r})")
        named = _client_by_name(ctx, given)
        if named is not None:
            ctx.report.issue(file, legacy, "clientId", FIXED,
                             f"{how}; linked to client {named[0]} by clientName {given!r}")
            return named[1].id
        extra = f"; clientName {given!r} matches no client" if given else ""
        ctx.report.issue(file, legacy, "clientId", UNLINKED,
                         f"{how}{extra}; imported without a client")
        return None
    client = ctx.ref("clients", ref_id)
    if client is None:
        ctx.report.issue(file, legacy, "clientId", UNLINKED,
                         f"client {ref_id} is neither in the export nor in the database; "
                         "imported without a client")
        return None
    if given and m.fold(str(given)) != m.fold(client.name):
        ctx.report.issue(file, legacy, "clientName", WARNING,
                         f"clientName {given!r} does not match client {ref_id} "
                         f"({client.name!r}); the id is trusted")
    return client.id


def _client_by_name(ctx: Ctx, name: Any) -> tuple[str, Ref] | None:
    if not name:
        return None
    if "clients" not in ctx.indexes:
        by_name: dict[str, list[tuple[str, Ref]]] = {}
        legacy_ids = set(ctx.refs.get("clients", {})) | set(ctx.existing.by_legacy["clients"])
        for lid in sorted(legacy_ids):
            if (ref := ctx.ref("clients", lid)) is not None:
                by_name.setdefault(m.fold(ref.name), []).append((lid, ref))
        ctx.indexes["clients"] = by_name
    found = ctx.indexes["clients"].get(m.fold(str(name)), [])
    return found[0] if len(found) == 1 else None


def _user(ctx: Ctx, file: str, legacy: str, fld: str, value: Any) -> Ref | None:
    ref_id = ctx.take(file, legacy, fld, m.legacy_ref(value))
    user = ctx.ref("users", ref_id)
    if ref_id is not None and user is None:
        ctx.report.issue(file, legacy, fld, UNLINKED,
                         f"team member {ref_id} is neither in the export nor in the database")
    return user


def plan_projects(ctx: Ctx, records: list[dict[str, Any]]) -> None:
    file = "projects"
    for legacy, r in unique_records(ctx, file, records):
        name = m.text(r.get("name"), 300)
        if not name:
            ctx.skip(file, legacy, "name", "no name")
            continue
        values: dict[str, Any] = {"id": ctx.row_id("projects", legacy), "org_id": ctx.org_id,
                                  "legacy_id": legacy, "name": name}
        for fld, rule in (("type", m.map_project_type), ("status", m.map_project_status),
                          ("priority", m.map_priority)):
            values[fld] = ctx.take(file, legacy, fld, rule(r.get(fld)))
            ctx.report.mapped(file, fld, r.get(fld), values[fld])
        start = ctx.take(file, legacy, "startDate", m.parse_date(r.get("startDate")))
        end = ctx.take(file, legacy, "endDate", m.parse_date(r.get("endDate")))
        manager = _user(ctx, file, legacy, "projectManager", r.get("projectManager"))
        values |= {
            "description": m.text(r.get("description")), "location": m.text(r.get("location")),
            "budget": ctx.take(file, legacy, "budget", m.parse_decimal(r.get("budget"))),
            "start_date": start,
            "end_date": ctx.take(file, legacy, "endDate", m.ordered_dates(start, end)),
            "progress": ctx.take(file, legacy, "progress", m.parse_percent(r.get("progress"))),
            "client_id": _client(ctx, legacy, r),
            "project_manager_id": manager.id if manager else None,
            "created_by": ctx.actor_id, **stamps(ctx, file, legacy, r)}
        ctx.add(Row("projects", ("legacy", legacy), values, file, legacy))
        ctx.remember("projects", legacy, Ref(values["id"], values["id"], name=name))
        ctx.project_labels[values["id"]] = legacy
        _members(ctx, legacy, values["id"], manager, r.get("teamMembers") or [])
        ctx.leftovers(file, r, PROJECT_FIELDS)


def _members(ctx: Ctx, legacy: str, project_id: uuid.UUID, manager: Ref | None,
             team: list[Any]) -> None:
    people = [manager] if manager else []
    for member in team:
        user = _user(ctx, "projects", legacy, "teamMembers", member)
        if user is not None and all(user.id != p.id for p in people):
            people.append(user)
    for user in people:
        role = "project_manager" if user is manager else user.extra.get("role") or "craftsman"
        add_member(ctx, project_id, user.id, role)


def add_member(ctx: Ctx, project_id: uuid.UUID, user_id: uuid.UUID, role: str) -> None:
    key = (project_id, user_id)
    current = ctx.existing.members.get(key)
    ctx.add(Row("project_members", key, {
        "id": current["id"] if current else uuid.uuid4(), "org_id": ctx.org_id,
        "project_id": project_id, "user_id": user_id, "role": role},
        insert_only=frozenset({"role"})))
    ctx.members.setdefault(project_id, set()).add(user_id)


def is_member(ctx: Ctx, project_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return user_id in ctx.members.get(project_id, set()) or (
        (project_id, user_id) in ctx.existing.members)


def ensure_member(ctx: Ctx, file: str, legacy: str, project_id: uuid.UUID, user: Ref) -> None:
    """Rule: an assignee who is not a member of the project is added as one (they could not
    see their own task otherwise), with their organisation role; reported."""
    if not is_member(ctx, project_id, user.id):
        add_member(ctx, project_id, user.id, user.extra.get("role") or "craftsman")
        ctx.report.issue(file, legacy, "assignedTo", ADDED,
                         f"{user.name} was not a member of the project; added as a member")


def _group(ctx: Ctx, project_id: uuid.UUID, name: str) -> uuid.UUID:
    key = (project_id, name)
    if key in ctx.groups:
        return ctx.groups[key]
    current = ctx.existing.groups.get(key)
    group_id = current["id"] if current else uuid.uuid4()
    ctx.add(Row("scope_groups", key, {
        "id": group_id, "org_id": ctx.org_id, "project_id": project_id, "name": name,
        "order_index": m.group_order(name)}, insert_only=frozenset({"order_index"})))
    ctx.groups[key] = group_id
    return group_id


def project_of(ctx: Ctx, file: str, legacy: str, value: Any) -> Ref | None:
    ref_id = ctx.take(file, legacy, "projectId", m.legacy_ref(value))
    project = ctx.ref("projects", ref_id)
    if project is None:
        ctx.skip(file, legacy, "projectId", f"project {ref_id} is neither in the export nor "
                 "in the database")
    return project


def _prices(ctx: Ctx, legacy: str, r: dict[str, Any]) -> dict[str, Any]:
    file = "scopeItems"
    qty = ctx.take(file, legacy, "quantity", m.parse_decimal(r.get("quantity"), 3))
    price = ctx.take(file, legacy, "unitPrice", m.parse_decimal(r.get("unitPrice")))
    total = ctx.take(file, legacy, "totalPrice", m.parse_decimal(r.get("totalPrice")))
    computed = (qty * price).quantize(Decimal("0.01")) if qty is not None and price is not None \
        else None
    if total is None and computed is not None:
        total = computed
    elif total is not None and computed is not None and total != computed:
        ctx.report.issue(file, legacy, "totalPrice", WARNING,
                         f"totalPrice {total} differs from quantity x unitPrice = {computed}; "
                         "totalPrice kept")
    unit = ctx.take(file, legacy, "unit", m.normalise_unit(r.get("unit")))
    ctx.report.mapped(file, "unit", r.get("unit"), unit)
    return {"quantity": qty, "unit": unit, "unit_price": price, "total_price": total}


def plan_scope_items(ctx: Ctx, records: list[dict[str, Any]]) -> None:
    file = "scopeItems"
    for legacy, r in unique_records(ctx, file, records):
        project = project_of(ctx, file, legacy, r.get("projectId"))
        full = m.text(r.get("description")) or m.text(r.get("name"))
        if project is None:
            continue
        if not full:
            ctx.skip(file, legacy, "description", "no description to name the item")
            continue
        row_id = ctx.row_id("scope_items", legacy)
        code: str | None = legacy[:100]
        if ctx.existing.scope_codes.get((project.id, code), row_id) != row_id:
            ctx.report.issue(file, legacy, "code", FIXED, f"code {code} is taken in the "
                             "project by another item; left empty")
            code = None
        group = ctx.take(file, legacy, "group", m.scope_group(r.get("group")))
        status = ctx.take(file, legacy, "status", m.map_scope_status(r.get("status")))
        ctx.report.mapped(file, "status", r.get("status"), status)
        start = ctx.take(file, legacy, "actualStartDate", m.parse_date(r.get("actualStartDate")))
        end = ctx.take(file, legacy, "actualEndDate", m.parse_date(
            r.get("actualEndDate") or r.get("estimatedEndDate")))
        values = {
            "id": row_id, "org_id": ctx.org_id, "project_id": project.id, "legacy_id": legacy,
            "scope_group_id": _group(ctx, project.id, group), "code": code,
            "name": full[:300], "description": full if len(full) > 300 else None,
            "category": m.text(r.get("category")), **_prices(ctx, legacy, r), "status": status,
            "completion": ctx.take(file, legacy, "progress", m.parse_percent(r.get("progress"))),
            "dependencies": [], "start_date": start,
            "end_date": ctx.take(file, legacy, "actualEndDate", m.ordered_dates(start, end)),
            "notes": append_notes(m.text(r.get("notes")),
                                  [("Blocking issue", m.text(r.get("blockingIssue")))]),
            **stamps(ctx, file, legacy, r)}
        ctx.add(Row("scope_items", ("legacy", legacy), values, file, legacy))
        ctx.remember("scope_items", legacy, Ref(row_id, project.id, name=full, extra={
            "unit_price": values["unit_price"], "values": values,
            "dependencies": r.get("dependencies") or []}))
        for fld, kind in (("shopDrawingId", "shop_drawings"), ("materialSpecId", "material_specs")):
            if r.get(fld) not in (None, ""):
                ctx.link_requests.append((file, legacy, fld, legacy, kind, str(r[fld])))
        ctx.leftovers(file, r, SCOPE_FIELDS)


def resolve_dependencies(ctx: Ctx) -> None:
    """Scope item dependencies, once every item has an id: same project only."""
    for legacy, ref in ctx.refs.get("scope_items", {}).items():
        deps: list[uuid.UUID] = []
        for dep in ref.extra["dependencies"]:
            target = ctx.ref("scope_items", str(dep))
            if target is None:
                why = f"{dep} does not exist"
            elif target.project_id != ref.project_id:
                why = f"{dep} belongs to another project"
            elif target.id == ref.id or target.id in deps:
                continue
            else:
                deps.append(target.id)
                continue
            ctx.report.issue("scopeItems", legacy, "dependencies", UNLINKED, f"{why}; not linked")
        ref.extra["values"]["dependencies"] = deps
