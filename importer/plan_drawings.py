"""Plan shop drawings and their revision history."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from importer import mapping as m
from importer.plan import Ctx, Ref, Row, append_notes, stamps, unique_records
from importer.plan_projects import project_of
from importer.report import DROPPED, FIXED, SKIPPED, UNLINKED, WARNING

DRAWING_FIELDS = frozenset({
    "id", "fileName", "originalFileName", "projectId", "drawingType", "room", "version",
    "status", "uploadDate", "uploadedBy", "uploadedById", "approvedBy", "approvedById",
    "approvedDate", "drawingNumber", "scopeItemIds", "connectedTasks", "revisionHistory",
    "fileSize", "notes", "createdAt", "updatedAt", "projectName"})
APPROVED = ("approved", "approved_as_noted")
DECIDED = (*APPROVED, "revise_and_resubmit", "rejected")


def person(ctx: Ctx, file: str, legacy: str, id_field: str, name_field: str,
           r: dict[str, Any]) -> Ref | None:
    """A person named by id and by name: the id is trusted and a differing name reported;
    a name alone links the one member of that name."""
    ref_id = ctx.take(file, legacy, id_field, m.legacy_ref(r.get(id_field)))
    name = m.text(r.get(name_field))
    if ref_id is None:
        if not name:
            return None
        if "users" not in ctx.indexes:
            by_name: dict[str, list[Ref]] = {}
            for lid in sorted(ctx.refs.get("users", {})):
                ref = ctx.refs["users"][lid]
                by_name.setdefault(m.fold(ref.name), []).append(ref)
            ctx.indexes["users"] = by_name
        found: list[Ref] = ctx.indexes["users"].get(m.fold(name), [])
        if len(found) == 1:
            ctx.report.issue(file, legacy, id_field, FIXED, f"no id; linked by name {name!r}")
            return found[0]
        ctx.report.issue(file, legacy, name_field, UNLINKED,
                         f"{name!r} has no id and matches {len(found)} members; not linked")
        return None
    user = ctx.ref("users", ref_id)
    if user is None:
        ctx.report.issue(file, legacy, id_field, UNLINKED,
                         f"team member {ref_id} is neither in the export nor in the database")
        return None
    if name and m.fold(name) != m.fold(user.name):
        ctx.report.issue(file, legacy, name_field, WARNING,
                         f"{name_field} {name!r} does not match {id_field} {ref_id} "
                         f"({user.name}); the id is trusted")
    return user


def _number(ctx: Ctx, legacy: str, project_id: uuid.UUID, row_id: uuid.UUID,
            r: dict[str, Any]) -> str:
    """Drawing numbers are unique per project; a clash keeps the number, suffixed."""
    number = m.text(r.get("drawingNumber"), 100)
    if not number:
        number = legacy
        ctx.report.issue("shopDrawings", legacy, "drawingNumber", FIXED,
                         f"no drawingNumber; the legacy id {legacy} is used")
    taken = ctx.drawing_numbers.get((project_id, number),
                                    ctx.existing.drawing_numbers.get((project_id, number), row_id))
    if taken != row_id:
        ctx.report.issue("shopDrawings", legacy, "drawingNumber", FIXED,
                         f"{number} is already used in the project; stored as {number}-{legacy}")
        number = f"{number}-{legacy}"
    ctx.drawing_numbers[(project_id, number)] = row_id
    return number


def plan_drawings(ctx: Ctx, records: list[dict[str, Any]]) -> None:
    file = "shopDrawings"
    for legacy, r in unique_records(ctx, file, records):
        project = project_of(ctx, file, legacy, r.get("projectId"))
        if project is None:
            continue
        row_id = ctx.row_id("shop_drawings", legacy)
        number = _number(ctx, legacy, project.id, row_id, r)
        status = ctx.take(file, legacy, "status", m.map_drawing_status(r.get("status")))
        ctx.report.mapped(file, "status", r.get("status"), status)
        revision = ctx.take(file, legacy, "version", m.revision_label(r.get("version")))
        uploader = person(ctx, file, legacy, "uploadedById", "uploadedBy", r)
        approver = person(ctx, file, legacy, "approvedById", "approvedBy", r)
        approved_at = ctx.take(file, legacy, "approvedDate",
                               m.parse_datetime(r.get("approvedDate")))
        if approver and status not in APPROVED:
            drop(ctx, legacy, "approvedById", f"drawing is {status}, not approved; approver "
                 "not kept")
            approver, approved_at = None, None
        uploaded = ctx.take(file, legacy, "uploadDate", m.parse_datetime(r.get("uploadDate")))
        file_name = m.text(r.get("fileName")) or m.text(r.get("originalFileName"))
        stamp = stamps(ctx, file, legacy, r)
        if "createdAt" not in r and uploaded:
            stamp = {"created_at": uploaded, "updated_at": max(uploaded, stamp["updated_at"])}
        notes = _history(ctx, legacy, row_id, project.id, revision, r, uploaded or stamp[
            "created_at"], m.text(r.get("notes")))
        ctx.add(Row("shop_drawings", ("legacy", legacy), {
            "id": row_id, "org_id": ctx.org_id, "project_id": project.id, "legacy_id": legacy,
            "drawing_number": number,
            "title": m.drawing_title(file_name, m.text(r.get("drawingType"), 300) or number),
            "drawing_type": m.text(r.get("drawingType")), "room": m.text(r.get("room")),
            "revision": revision, "status": status,
            "created_by": uploader.id if uploader else None,
            "submitted_by": uploader.id if uploader and status != "draft" else None,
            "submitted_at": uploaded if status != "draft" else None,
            "reviewed_by": approver.id if approver and status in DECIDED else None,
            "approved_by": approver.id if approver else None, "approved_at": approved_at,
            "file_name": file_name,
            "file_size": ctx.take(file, legacy, "fileSize",
                                  m.megabytes_to_bytes(r.get("fileSize"))),
            "mime_type": m.mime_type(file_name), "notes": notes, **stamp}, file, legacy))
        ctx.remember("shop_drawings", legacy, Ref(row_id, project.id, name=number))
        for scope in r.get("scopeItemIds") or []:
            ctx.link_requests.append((file, legacy, "scopeItemIds", str(scope), "shop_drawings",
                                      legacy))
        _connected_tasks(ctx, legacy, project, r.get("connectedTasks") or [])
        ctx.leftovers(file, r, DRAWING_FIELDS)


def drop(ctx: Ctx, legacy: str, fld: str, why: str) -> None:
    ctx.report.issue("shopDrawings", legacy, fld, DROPPED, why)


def _connected_tasks(ctx: Ctx, legacy: str, project: Ref, tasks: list[Any]) -> None:
    """The new model links drawings and tasks through scope items only."""
    if not tasks:
        return
    other = [str(t) for t in tasks if (ref := ctx.ref("tasks", str(t))) is None
             or ref.project_id != project.id]
    detail = f"connectedTasks {', '.join(map(str, tasks))} not kept: drawings and tasks meet " \
             "through scope items"
    if other:
        detail += f" ({', '.join(other)} missing or in another project)"
    drop(ctx, legacy, "connectedTasks", detail)


def _history(ctx: Ctx, legacy: str, drawing_id: uuid.UUID, project_id: uuid.UUID, current: str,
             r: dict[str, Any], fallback: dt.datetime, notes: str | None) -> str | None:
    """Superseded revisions become shop_drawing_revisions rows; the entry of the current
    revision (whose state is on the drawing itself) adds its comment to the notes."""
    seen: set[str] = set()
    for index, entry in enumerate(r.get("revisionHistory") or []):
        label, note = m.revision_label(entry.get("version"))
        where = f"revisionHistory[{index}]"
        if note or label in seen:
            ctx.report.issue("shopDrawings", legacy, where, SKIPPED,
                             note or f"{label} appears twice; the first entry is kept")
            continue
        seen.add(label)
        status, status_note = m.map_drawing_status(entry.get("status"))
        when = ctx.take("shopDrawings", legacy, where, m.parse_datetime(entry.get("date")))
        comment = m.text(entry.get("comment"))
        if status_note:
            ctx.report.issue("shopDrawings", legacy, where, FIXED, status_note)
        ctx.report.mapped("shopDrawings", "revisionHistory.status", entry.get("status"), status)
        if label == current:
            notes = append_notes(notes, [(f"{label} ({status})", comment)])
            continue
        key = (drawing_id, label)
        existing = ctx.existing.revisions.get(key)
        ctx.add(Row("shop_drawing_revisions", key, {
            "id": existing["id"] if existing else uuid.uuid4(), "org_id": ctx.org_id,
            "project_id": project_id, "drawing_id": drawing_id, "revision": label,
            "status": status, "comment": comment, "closed_by": None,
            "closed_at": when or fallback},
            # A fallback time (no date in the entry) is set once, so re-runs stay no-ops.
            insert_only=frozenset() if when else frozenset({"closed_at"})))
    return notes
