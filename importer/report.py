"""The import report: per-file totals that balance, and every fix, skip and mismatch."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

# What happened to a record or a value:
FIXED = "fixed"          # a value was changed by a documented rule
SKIPPED = "skipped"      # the record was not imported
UNLINKED = "unlinked"    # a reference was not linked (dangling, cross-project, unknown)
WARNING = "warning"      # a contradiction noted; the data is kept as the rule says
DROPPED = "dropped"      # a value has no place in the new model and was not kept
ADDED = "added"          # something the export implies was added (e.g. a project member)
ACTIONS = (SKIPPED, UNLINKED, FIXED, ADDED, WARNING, DROPPED)


@dataclass
class Issue:
    file: str
    record: str
    field: str
    action: str
    detail: str


@dataclass
class FileCount:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0

    @property
    def balanced(self) -> bool:
        return self.read == self.created + self.updated + self.unchanged + self.skipped


@dataclass
class Report:
    """Filled by the planner (issues) and the writer (counts); rendered as JSON or Markdown."""

    org: str = ""
    actor: str = ""
    request_id: str = ""
    dry_run: bool = False
    directory: str = ""
    files: dict[str, FileCount] = field(default_factory=dict)
    tables: dict[str, FileCount] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    mappings: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    ignored_fields: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    invited: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def issue(self, file: str, record: Any, fld: str, action: str, detail: str) -> None:
        self.issues.append(Issue(file, str(record), fld, action, detail))

    def mapped(self, file: str, fld: str, before: Any, after: Any) -> None:
        """Tally a value that a rule translated (`active` -> `in_progress`)."""
        if before != after:
            self.mappings[f"{file}.{fld}"][f"{before!r} -> {after!r}"] += 1

    def find(self, file: str | None = None, record: Any = None, action: str | None = None,
             fld: str | None = None) -> list[Issue]:
        return [i for i in self.issues
                if (file is None or i.file == file) and (record is None or i.record == str(record))
                and (action is None or i.action == action) and (fld is None or i.field == fld)]

    @property
    def balanced(self) -> bool:
        return all(count.balanced for count in self.files.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "org": self.org, "actor": self.actor, "request_id": self.request_id,
            "dry_run": self.dry_run, "directory": self.directory,
            "seconds": round(self.seconds, 3), "balanced": self.balanced,
            "files": {k: asdict(v) for k, v in self.files.items()},
            "tables": {k: asdict(v) for k, v in self.tables.items()},
            "issue_counts": dict(Counter(i.action for i in self.issues)),
            "issues": [asdict(i) for i in self.issues],
            "mappings": {k: dict(v) for k, v in sorted(self.mappings.items())},
            "ignored_fields": {k: dict(v) for k, v in sorted(self.ignored_fields.items())},
            "invited": self.invited, "notes": self.notes,
        }

    def markdown(self) -> str:
        lines = [f"# Legacy import into `{self.org}`" + (" (dry run)" if self.dry_run else ""),
                 "", f"As {self.actor}, request `{self.request_id}`, from `{self.directory}`, "
                 f"{self.seconds:.2f} s.", "", "| file | read | created | updated | unchanged "
                 "| skipped |", "|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {k} | {v.read} | {v.created} | {v.updated} | {v.unchanged} | {v.skipped} |"
                  for k, v in self.files.items()]
        lines += ["", "| table | created | updated | unchanged |", "|---|---:|---:|---:|"]
        lines += [f"| {k} | {v.created} | {v.updated} | {v.unchanged} |"
                  for k, v in self.tables.items()]
        for action in ACTIONS:
            found = [i for i in self.issues if i.action == action]
            if found:
                lines += ["", f"## {action} ({len(found)})", "", "| file | record | field | "
                          "detail |", "|---|---|---|---|"]
                lines += [f"| {i.file} | {i.record} | {i.field} | {i.detail} |" for i in found]
        if self.mappings:
            lines += ["", "## value mappings", ""]
            lines += [f"- `{k}`: " + ", ".join(f"{m} ({n})" for m, n in v.items())
                      for k, v in sorted(self.mappings.items())]
        if self.ignored_fields:
            lines += ["", "## fields not imported (no column in the new model)", ""]
            lines += [f"- `{k}`: " + ", ".join(f"{f} ({n})" for f, n in v.items())
                      for k, v in sorted(self.ignored_fields.items())]
        if self.invited:
            lines += ["", "## users to invite", ""]
            lines += [f"- {u['email']} ({u['name']}, {u['role']})" for u in self.invited]
        lines += ["", *[f"- {note}" for note in self.notes]]
        return "\n".join(lines) + "\n"
