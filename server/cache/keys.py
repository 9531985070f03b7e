"""Cache key scheme and invalidation planning: pure functions, no I/O.

Keys (under the deployment prefix `fpm:<env>:` and the epoch):
- `rec:<table>:<id>`: one record as stored (served only after the reader's access check);
- `gen:p:<project_id>`: generation of the project's cached views (its summary), bumped on any
  change in the project;
- `gen:o:<org_id>`: generation of the org's visible-project sets, bumped when projects,
  members, clients, users or the organisation change;
- `search:gen:<org_id>`: generation of the org's cached search pages, bumped by any change to
  a searchable row;
- `vis:<user_id>`: the projects a user can see (`*` = org admin: all of *that org's*),
  stored with the org and the org generation it was computed under, and used only by a
  reader of that org while that generation is still current;
- project views (`list:<name>:...`) and search pages embed the reader's org and the
  generation they were computed under, so a bump retires them at O(1) cost: nothing is ever
  found with KEYS or SCAN.

Both the writer's request (its transactions' `on_commit`, `server/writes.py`) and the change
leader (`server/live.py`) hand what changed, as `db.committed.Change`s, to the one
`server.cache.store.invalidate`, which applies `plan_all`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from db.committed import Change
from db.tables import ORG_TABLES, PROJECT_TABLES, SEARCHABLE_TABLES, VISIBILITY_TABLES

TTL = {"record": 300, "view": 60, "search": 20, "visibility": 60}  # seconds

# A change to any of a project's tables (the project itself included) bumps its generation;
# one to a searchable table, its org's search generation. The org generation is bumped by
# changes that can alter who sees what (the tables the visibility functions read), or
# org-wide records.
ORG_GENERATION_TABLES = ORG_TABLES | VISIBILITY_TABLES


@functools.lru_cache(maxsize=8192)  # hot path: formatting UUIDs is slow
def record_key(table: str, record_id: Any) -> str:
    return f"rec:{table}:{record_id}"


def project_generation_key(project_id: Any) -> str:
    return f"gen:p:{project_id}"


@functools.lru_cache(maxsize=8192)  # hot path: formatting UUIDs is slow
def org_generation_key(org_id: Any) -> str:
    return f"gen:o:{org_id}"


def search_generation_key(org_id: Any) -> str:
    """Generation of an org's cached search pages, bumped by any change to a searchable row."""
    return f"search:gen:{org_id}"


@functools.lru_cache(maxsize=8192)  # hot path: formatting UUIDs is slow
def visibility_key(user_id: Any) -> str:
    """The user's visible-project set, as {"o": org, "g": org generation, "p": ids or "*"}."""
    return f"vis:{user_id}"


# Attribute naming the table of a GET handler's record, so that the auth middleware can
# read that record in the same Redis round trip as the session (`@reads_record`).
READS_RECORD = "__fpm_reads_record__"


def list_key(resource: str, org_id: Any, scope: Any, generation: int,
             variant: Mapping[str, Any]) -> str:
    """A cached view of one project (today its summary): name, the reader's organisation,
    the project, its generation, and the variant. The organisation is the reader's, not the
    project's: a reader of another organisation names another key, so it can never hit an
    entry it did not fill through row-level security."""
    digest = hashlib.sha256(json.dumps(variant, sort_keys=True, default=str).encode())
    return f"list:{resource}:{org_id}:{scope}:{generation}:{digest.hexdigest()[:24]}"


@dataclass
class Invalidation:
    delete: set[str] = field(default_factory=set)
    bump: set[str] = field(default_factory=set)

    def merge(self, other: Invalidation) -> None:
        self.delete |= other.delete
        self.bump |= other.bump


def plan(change: Change) -> Invalidation:
    """The keys to delete and the generations to bump for one change."""
    out = Invalidation()
    if change.record_id is not None:
        out.delete.add(record_key(change.table, change.record_id))
    if change.project_id is not None and change.table in PROJECT_TABLES:
        out.bump.add(project_generation_key(change.project_id))
    if change.table in ORG_GENERATION_TABLES and change.org_id is not None:
        out.bump.add(org_generation_key(change.org_id))
    if change.table in SEARCHABLE_TABLES and change.org_id is not None:
        out.bump.add(search_generation_key(change.org_id))
    return out


def plan_all(changes: Iterable[Change]) -> Invalidation:
    total = Invalidation()
    for change in changes:
        total.merge(plan(change))
    return total
