"""Run an import: read and validate, then plan, compare and write in ONE transaction.

The transaction is a `system_transaction` (the BYPASSRLS role) with the importing admin as
the actor, so every audit row names that admin and the request id `import-legacy:<uuid>`,
and marked bulk (`app.bulk`, a server-only setting): the change leader sends one
`import.completed` instead of a row event each, yet invalidates and re-checks as usual.
The system role is needed because e-mail addresses are unique across the whole service:
checking a team member's e-mail against other organisations' users is exactly what RLS
hides from an application transaction. Every statement is scoped to the organisation.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from db.pool import Actor, system_transaction
from db.queries import importer, locks, organizations
from db.queries.events import record_event
from importer.mapping import legacy_ref
from importer.plan import Ctx
from importer.plan_drawings import plan_drawings
from importer.plan_org import plan_clients, plan_users
from importer.plan_projects import plan_projects, plan_scope_items, resolve_dependencies
from importer.plan_specs import plan_links, plan_specs
from importer.plan_tasks import plan_tasks
from importer.progress import Silent, Tracker
from importer.read import LegacyExport, read_export
from importer.report import FileCount, Report
from importer.state import load_existing
from importer.write import diff, write


class ImportAborted(Exception):
    """The import cannot run (no such organisation or admin); nothing was written."""


async def _actor(pool: asyncpg.Pool, org_slug: str, as_email: str | None
                 ) -> tuple[uuid.UUID, uuid.UUID, str]:
    async with system_transaction(pool) as conn:
        org = await organizations.id_by_slug(conn, org_slug)
        if org is None:
            raise ImportAborted(f"no organisation {org_slug!r}; create it first with "
                                "`formula-pm create-admin --org ...`")
        row = await importer.first_admin(conn, org, as_email)
    if row is None:
        raise ImportAborted(f"no admin {as_email} in {org_slug!r}" if as_email
                            else f"organisation {org_slug!r} has no admin to act as")
    return org, row["id"], row["email"]


def build_plan(ctx: Ctx, export: LegacyExport, tracker: Tracker) -> None:
    """Plan every file in dependency order; refs flow from earlier files to later ones."""
    for stem, records in export.records.items():
        ctx.report.files[stem] = FileCount(read=len(records))
    managers = {ref for p in export.get("projects")
                if (ref := legacy_ref(p.get("projectManager"))[0]) is not None}
    steps: list[tuple[str, Any]] = [
        ("clients", lambda r: plan_clients(ctx, r)),
        ("teamMembers", lambda r: plan_users(ctx, r, managers)),
        ("projects", lambda r: plan_projects(ctx, r)),
        ("scopeItems", lambda r: plan_scope_items(ctx, r)),
        ("tasks", lambda r: plan_tasks(ctx, r)),
        ("shopDrawings", lambda r: plan_drawings(ctx, r)),
        ("materialSpecifications", lambda r: plan_specs(ctx, r)),
    ]
    tracker.phase("planning", sum(len(r) for r in export.records.values()))
    for stem, step in steps:
        records = export.get(stem)
        step(records)
        if stem == "scopeItems":
            resolve_dependencies(ctx)
        tracker.advance(len(records))
    plan_links(ctx)


async def import_legacy(
    pool: asyncpg.Pool, directory: Path, *, org_slug: str, as_email: str | None = None,
    dry_run: bool = False, tracker: Tracker | None = None,
) -> Report:
    """Import the export in `directory` into the organisation; returns the report."""
    tracker = tracker or Silent()
    started = time.monotonic()
    export = read_export(directory)
    tracker.phase("reading", len(export.records))
    tracker.advance(len(export.records))
    org_id, actor_id, actor_email = await _actor(pool, org_slug, as_email)
    report = Report(org=org_slug, actor=actor_email, dry_run=dry_run,
                    request_id=f"import-legacy:{uuid.uuid4()}", directory=str(directory))
    report.notes += [f"{name}: not a legacy file; ignored" for name in export.ignored_files]
    actor = Actor(actor_id, org_id, role="admin", request_id=report.request_id)
    async with system_transaction(pool, actor, bulk=True) as conn:
        # Two imports into one organisation at once would plan against the same state.
        await locks.hold_for_transaction(conn, f"import-legacy:{org_id}")
        emails = [str(r["email"]) for r in export.get("teamMembers") if r.get("email")]
        existing = await load_existing(conn, org_id, emails)
        ctx = Ctx(org_id, actor_id, report, existing)
        build_plan(ctx, export, tracker)
        changes = diff(ctx.rows, existing, report)
        if not dry_run and changes.total:
            tracker.phase("writing", changes.total)
            await write(conn, changes, tracker.advance)
            await record_event(conn, "import", _summary(report), org_id=org_id,
                               user_id=actor_id)
    report.seconds = time.monotonic() - started
    tracker.close()
    return report


def _summary(report: Report) -> dict[str, Any]:
    """The one `import` event: what a client needs to know to refetch."""
    data = report.as_dict()
    return {"source": "legacy-json", "files": data["files"], "tables": data["tables"],
            "issue_counts": data["issue_counts"], "invited": len(report.invited)}



