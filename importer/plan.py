"""The plan: every row the export implies, with ids resolved, before anything is written.

Ids of new rows are drawn here (uuid4), so references between files resolve in memory; a
reference resolves to a row of this export first, then to a row already in the database
with that legacy id (an export may hold only some of the files).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from importer.mapping import Mapped
from importer.report import DROPPED, FIXED, SKIPPED, Report
from importer.state import Existing

# Tables in the order they are written (foreign keys point backwards).
TABLES = ("clients", "users", "projects", "project_members", "scope_groups", "scope_items",
          "tasks", "shop_drawings", "shop_drawing_revisions", "material_specs", "item_links")
PRIMARY = {"clients": "clients", "teamMembers": "users", "projects": "projects",
           "scopeItems": "scope_items", "tasks": "tasks", "shopDrawings": "shop_drawings",
           "materialSpecifications": "material_specs"}
# Written when a row is created and never changed by a later import.
INSERT_ONLY = frozenset({"id", "org_id", "created_at", "updated_at", "created_by"})


@dataclass
class Row:
    """One row to create or bring up to date; `key` finds it among the existing rows."""

    table: str
    key: tuple[Any, ...]
    values: dict[str, Any]
    file: str | None = None
    record: str | None = None
    insert_only: frozenset[str] = frozenset()


@dataclass
class Ref:
    """What other records need to know of an imported (or already present) record."""

    id: uuid.UUID
    project_id: uuid.UUID | None = None
    name: str = ""
    legacy_project: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Ctx:
    """Planning state shared by the per-file planners."""

    org_id: uuid.UUID
    actor_id: uuid.UUID
    report: Report
    existing: Existing
    rows: dict[str, list[Row]] = field(default_factory=lambda: {t: [] for t in TABLES})
    refs: dict[str, dict[str, Ref]] = field(default_factory=dict)
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    members: dict[uuid.UUID, set[uuid.UUID]] = field(default_factory=dict)
    groups: dict[tuple[uuid.UUID, str], uuid.UUID] = field(default_factory=dict)
    # (file, record, field, scope item legacy id, target table, target legacy id)
    project_labels: dict[uuid.UUID, str] = field(default_factory=dict)
    drawing_numbers: dict[tuple[uuid.UUID, str], uuid.UUID] = field(default_factory=dict)
    # Lookups built once on first use (clients by name, scope items by project).
    indexes: dict[str, Any] = field(default_factory=dict)
    link_requests: list[tuple[str, str, str, str, str, str]] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows[row.table].append(row)

    def ref(self, table: str, legacy: str | None) -> Ref | None:
        """A record of this export, else one already in the database, by legacy id."""
        if legacy is None:
            return None
        found = self.refs.get(table, {}).get(legacy)
        if found is not None:
            return found
        row = self.existing.by_legacy.get(table, {}).get(legacy)
        if row is None:
            return None
        return Ref(row["id"], row.get("project_id"), name=_display(table, row),
                   extra={"role": row.get("role")})

    def project_label(self, project_id: uuid.UUID | None) -> str:
        """The legacy id of a project, for messages."""
        if project_id in self.project_labels:
            return self.project_labels[project_id]
        for legacy, row in self.existing.by_legacy.get("projects", {}).items():
            if row["id"] == project_id:
                return legacy
        return str(project_id)

    def remember(self, table: str, legacy: str, ref: Ref) -> None:
        self.refs.setdefault(table, {})[legacy] = ref

    def row_id(self, table: str, legacy: str) -> uuid.UUID:
        """The id of the existing row with this legacy id, or a fresh one."""
        row = self.existing.by_legacy.get(table, {}).get(legacy)
        return row["id"] if row is not None else uuid.uuid4()

    def take(self, file: str, record: Any, fld: str, mapped: Mapped[Any]) -> Any:
        """The value of a mapping rule; its note, if any, goes into the report."""
        value, note = mapped
        if note:
            self.report.issue(file, record, fld, FIXED, note)
        return value

    def skip(self, file: str, record: Any, fld: str, why: str) -> None:
        self.report.issue(file, record, fld, SKIPPED, why)
        self.report.files[file].skipped += 1

    def leftovers(self, file: str, record: dict[str, Any], used: frozenset[str]) -> None:
        """Tally the fields with a value that the new model has no place for."""
        for key, value in record.items():
            if key not in used and value not in (None, "", [], {}):
                self.report.ignored_fields[file][key] += 1


def _display(table: str, row: Any) -> str:
    if table == "users":
        return f"{row['first_name']} {row['last_name']}"
    return str(row.get("name") or "")


def unique_records(ctx: Ctx, file: str, records: list[dict[str, Any]]
                   ) -> list[tuple[str, dict[str, Any]]]:
    """(legacy id, record) once per id; later duplicates are skipped and reported."""
    seen: set[str] = set()
    result = []
    for record in records:
        legacy = str(record["id"]).strip()
        if legacy in seen:
            ctx.skip(file, legacy, "id", "duplicate id in the file; the first record is kept")
            continue
        seen.add(legacy)
        result.append((legacy, record))
    return result


def stamps(ctx: Ctx, file: str, legacy: str, record: dict[str, Any]) -> dict[str, Any]:
    """created_at/updated_at from the legacy record (kept on insert only)."""
    from importer.mapping import parse_datetime

    created = ctx.take(file, legacy, "createdAt", parse_datetime(record.get("createdAt")))
    updated = ctx.take(file, legacy, "updatedAt", parse_datetime(record.get("updatedAt")))
    created = created or ctx.now
    return {"created_at": created, "updated_at": max(updated or created, created)}


def drop(ctx: Ctx, file: str, legacy: str, fld: str, why: str) -> None:
    ctx.report.issue(file, legacy, fld, DROPPED, why)


def append_notes(notes: str | None, extras: list[tuple[str, Any]]) -> str | None:
    """Legacy text without a column of its own, appended to notes as labelled lines."""
    lines = [f"{label}: {value}" for label, value in extras if value not in (None, "", [])]
    if not lines:
        return notes
    block = "\n".join(lines)
    return f"{notes}\n\n{block}" if notes else block
