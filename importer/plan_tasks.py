"""Plan tasks: status and completion rules, assignees, and their scope item links."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from importer import mapping as m
from importer.plan import Ctx, Ref, Row, append_notes, stamps, unique_records
from importer.plan_projects import ensure_member, project_of
from importer.report import FIXED, UNLINKED
from rules import tasks as task_rules

TASK_FIELDS = frozenset({
    "id", "projectId", "name", "description", "status", "priority", "assignedTo",
    "startDate", "dueDate", "progress", "estimatedHours", "actualHours", "completedAt",
    "scopeItemIds", "category", "tags", "notes", "createdAt", "updatedAt"})
SCOPE_MENTION = re.compile(r"@scope:\s*(.+)", re.I)


def _completion(ctx: Ctx, legacy: str, r: dict[str, Any], status: str, progress: int
                ) -> tuple[int, dt.datetime | None]:
    """Completed tasks carry progress 100 and a completion time; others carry none
    (`rules.tasks`).

    Rule for `completed` without completedAt: the status is the user's explicit act and is
    trusted; progress becomes 100 and completed_at the record's last update (updatedAt),
    the closest recorded time to the completion (see _completion_time)."""
    file = "tasks"
    done = ctx.take(file, legacy, "completedAt", m.parse_datetime(r.get("completedAt")))
    rule = task_rules.completion(status)
    if rule.completed_at is not task_rules.Stamp.SET:
        if done is not None:
            ctx.report.issue(file, legacy, "completedAt", FIXED,
                             f"status is {status} but completedAt is set; completedAt cleared")
        return progress, None
    fixes = []
    if done is None:
        done, source = _completion_time(ctx, legacy, r)
        fixes.append(f"completed_at set to {source} ({done.isoformat()})")
    forced = progress if rule.progress is None else rule.progress
    if progress != forced:
        fixes.append(f"progress {progress} set to {forced}")
    if fixes:
        missing = "no completedAt" if "completedAt" not in r or not r["completedAt"] else \
            "a completedAt"
        ctx.report.issue(file, legacy, "status", FIXED, f"completed with progress {progress} and "
                         f"{missing}: " + ", ".join(fixes))
    return forced, done


def _completion_time(ctx: Ctx, legacy: str, r: dict[str, Any]) -> tuple[dt.datetime, str]:
    """updatedAt, else createdAt, else what an earlier import stored, else now: stable
    across runs, so a second import finds nothing to change."""
    for fld in ("updatedAt", "createdAt"):
        stamp = m.parse_datetime(r.get(fld))[0]
        if stamp is not None:
            return stamp, fld
    earlier = ctx.existing.by_legacy["tasks"].get(legacy)
    if earlier is not None and earlier["completed_at"] is not None:
        return earlier["completed_at"], "the time of the first import"
    return ctx.now, "the import time"


def _assignee(ctx: Ctx, legacy: str, project: Ref, value: Any) -> Any:
    ref_id = ctx.take("tasks", legacy, "assignedTo", m.legacy_ref(value))
    if ref_id is None:
        return None
    user = ctx.ref("users", ref_id)
    if user is None:
        ctx.report.issue("tasks", legacy, "assignedTo", UNLINKED,
                         f"team member {ref_id} is neither in the export nor in the database; "
                         "task left unassigned")
        return None
    ensure_member(ctx, "tasks", legacy, project.id, user)
    return user.id


def plan_tasks(ctx: Ctx, records: list[dict[str, Any]]) -> None:
    file = "tasks"
    for legacy, r in unique_records(ctx, file, records):
        project = project_of(ctx, file, legacy, r.get("projectId"))
        if project is None:
            continue
        name = m.text(r.get("name"), 300)
        if not name:
            ctx.skip(file, legacy, "name", "no name")
            continue
        status = ctx.take(file, legacy, "status", m.map_task_status(r.get("status")))
        ctx.report.mapped(file, "status", r.get("status"), status)
        priority = ctx.take(file, legacy, "priority", m.map_priority(r.get("priority")))
        stamp = stamps(ctx, file, legacy, r)
        progress = ctx.take(file, legacy, "progress", m.parse_percent(r.get("progress")))
        progress, completed_at = _completion(ctx, legacy, r, status, progress)
        start = ctx.take(file, legacy, "startDate", m.parse_date(r.get("startDate")))
        due = ctx.take(file, legacy, "dueDate", m.parse_date(r.get("dueDate")))
        row_id = ctx.row_id("tasks", legacy)
        description = m.text(r.get("description"))
        ctx.add(Row("tasks", ("legacy", legacy), {
            "id": row_id, "org_id": ctx.org_id, "project_id": project.id, "legacy_id": legacy,
            "name": name, "status": status, "priority": priority,
            "description": append_notes(description, [("Notes", m.text(r.get("notes")))]),
            "assigned_to": _assignee(ctx, legacy, project, r.get("assignedTo")),
            "created_by": ctx.actor_id, "start_date": start,
            "due_date": ctx.take(file, legacy, "dueDate", m.ordered_dates(start, due)),
            "progress": progress, "completed_at": completed_at,
            "estimated_hours": ctx.take(file, legacy, "estimatedHours",
                                        m.parse_decimal(r.get("estimatedHours"))),
            "actual_hours": ctx.take(file, legacy, "actualHours",
                                     m.parse_decimal(r.get("actualHours"))),
            "category": m.text(r.get("category")),
            "tags": [t for t in (m.text(x, 100) for x in r.get("tags") or []) if t],
            **stamp}, file, legacy))
        ctx.remember("tasks", legacy, Ref(row_id, project.id, name=name))
        scope_ids = r.get("scopeItemIds") or []
        for scope in scope_ids:
            ctx.link_requests.append((file, legacy, "scopeItemIds", str(scope), "tasks", legacy))
        if not scope_ids and description:
            _mention(ctx, legacy, project, description)
        ctx.leftovers(file, r, TASK_FIELDS)


def _mention(ctx: Ctx, legacy: str, project: Ref, description: str) -> None:
    """Rule: an `@scope:<name>` mention links the one item of the project whose name holds
    that text; none or several -> reported, not linked."""
    match = SCOPE_MENTION.search(description)
    if not match:
        return
    wanted = m.fold(match.group(1))
    if "scope_items" not in ctx.indexes:
        by_project: dict[Any, list[tuple[str, str]]] = {}
        for lid, ref in sorted(ctx.refs.get("scope_items", {}).items()):
            by_project.setdefault(ref.project_id, []).append((lid, m.fold(ref.name)))
        ctx.indexes["scope_items"] = by_project
    found = [(lid, name) for lid, name in ctx.indexes["scope_items"].get(project.id, [])
             if wanted in name]
    if len(found) == 1:
        ctx.report.issue("tasks", legacy, "description", FIXED,
                         f"@scope mention {match.group(1).strip()!r} linked to {found[0][0]}")
        ctx.link_requests.append(("tasks", legacy, "description", found[0][0], "tasks", legacy))
    else:
        ctx.report.issue("tasks", legacy, "description", UNLINKED,
                         f"@scope mention {match.group(1).strip()!r} matches {len(found)} scope "
                         "items of the project; not linked")
