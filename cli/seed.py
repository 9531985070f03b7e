"""A deterministic demo fit-out firm (`cli/demo_catalogue.py`): people in every role,
clients, and N projects, each with its bill of quantities, task plan, drawing register and
material specifications, whose statuses follow the project's timeline as of the demo's
"today". Same seed, same rows (ids included); `--projects` scales it for benchmarks."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg

from cli.demo_catalogue import (
    CLIENT_USER,
    CLIENTS,
    EMAIL_DOMAIN,
    MATERIALS,
    ORG_NAME,
    ORG_SLUG,
    PEOPLE,
    PROJECT_KINDS,
    SCOPE,
    SHEETS,
    SITES,
    TASK_NOTES,
    TASKS,
    TODAY,
    Material,
    ProjectKind,
    Sheet,
    TaskPlan,
)
from db.pool import Actor, system_transaction
from db.queries import bulk, locks, organizations
from server.auth.passwords import hash_password

TABLES = ("organizations", "clients", "users", "projects", "project_members", "scope_groups",
          "scope_items", "tasks", "item_links", "shop_drawings", "material_specs")
CENT = Decimal("0.01")


@dataclass
class _Rows:
    """Rows per table, in insertion order, gathered before one bulk insert each; ids come
    from their own generator so that they, too, are the same on every run."""

    ids: random.Random
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    by_id: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)

    def add(self, table: str, **values: Any) -> uuid.UUID:
        values["id"] = uuid.UUID(int=self.ids.getrandbits(128), version=4)
        self.tables.setdefault(table, []).append(values)
        self.by_id[values["id"]] = values
        return uuid.UUID(str(values["id"]))

    def link(self, org: uuid.UUID, pid: uuid.UUID, item: uuid.UUID, task: uuid.UUID) -> None:
        """An item link, with both mirrored id lists filled in already, so that the link
        trigger finds nothing left to update (a bulk load stays one write per row)."""
        self.add("item_links", org_id=org, project_id=pid, scope_item_id=item, task_id=task)
        self.by_id[task]["scope_item_ids"].append(item)
        self.by_id[item]["task_ids"] = sorted({*self.by_id[item]["task_ids"], task})


@dataclass(frozen=True)
class Timeline:
    """A project's dates and how far along it is on the demo's "today"."""

    start: dt.date
    end: dt.date
    on_hold: bool

    def day(self, share: float) -> dt.date:
        return self.start + dt.timedelta(days=round(share * (self.end - self.start).days))

    @property
    def elapsed(self) -> float:
        """Share of the timeline behind us (0 before the start, 1 after the end); a job on
        hold stopped at 40 %."""
        share = (TODAY - self.start).days / max(1, (self.end - self.start).days)
        share = min(1.0, max(0.0, share))
        return min(share, 0.4) if self.on_hold else share

    @property
    def status(self) -> str:
        if self.end < TODAY:
            return "completed"
        if self.start > TODAY:
            return "on_tender"
        return "on_hold" if self.on_hold else "active"


def scope_status(completion: int, on_hold: bool = False) -> str:
    """A scope item's status as its completion says: none yet, part, all."""
    if completion >= 100:
        return "completed"
    if completion <= 0:
        return "pending"
    return "on_hold" if on_hold else "in_progress"


def _share(elapsed: float, window: tuple[float, float]) -> float:
    """How much of work done over `window` (shares of the timeline) is done at `elapsed`."""
    start, end = window
    return min(1.0, max(0.0, (elapsed - start) / (end - start)))


def _tens(share: float) -> int:
    return round(share * 10) * 10


def _line_window(window: tuple[float, float], index: int, count: int) -> tuple[float, float]:
    """The part of its trade's window one line of the bill takes: the first starts with the
    trade, the last finishes with it, each over 60 % of it."""
    start, end = window
    span = end - start
    begins = start + span * 0.4 * index / max(1, count - 1)
    return begins, begins + span * 0.6


def _ascii(text: str) -> str:
    table = str.maketrans("ıİşŞğĞüÜöÖçÇ", "iIsSgGuUoOcC")
    return text.translate(table)


def _people(rows: _Rows, org: uuid.UUID, password_hash: str,
            clients: list[uuid.UUID]) -> dict[str, list[uuid.UUID]]:
    """Users by role, and by position word (who is the electrician)."""
    found: dict[str, list[uuid.UUID]] = {}
    for first, last, role, position, department in PEOPLE:
        email = f"{_ascii(first)}.{_ascii(last)}@{EMAIL_DOMAIN}".lower()
        uid = rows.add("users", org_id=org, email=email, first_name=first, last_name=last,
                       role=role, position=position, department=department,
                       password_hash=password_hash, status="active")
        for key in (role, *position.split()):
            found.setdefault(key, []).append(uid)
    first, last, position = CLIENT_USER
    found["client"] = [rows.add(
        "users", org_id=org, email=f"client@{EMAIL_DOMAIN}", first_name=first, last_name=last,
        role="client", client_id=clients[0], position=position,
        password_hash=password_hash, status="active")]
    return found


def _clients(rows: _Rows, org: uuid.UUID) -> list[uuid.UUID]:
    return [rows.add("clients", org_id=org, name=c.name, company_name=c.company,
                     industry=c.industry, status="active", contact_person=c.contact,
                     phone=c.phone, address=c.address, city="İstanbul", country="Türkiye",
                     email=f"projects@{_ascii(c.name).lower().replace(' ', '')}.example",
                     payment_terms="Net 30")
            for c in CLIENTS]


@dataclass(frozen=True)
class _Job:
    """What the generators of one project's rows share."""

    rows: _Rows
    rng: random.Random
    org: uuid.UUID
    project: uuid.UUID
    kind: ProjectKind
    timeline: Timeline
    people: dict[str, list[uuid.UUID]]

    def words(self, text: str) -> str:
        """`text` with the job's own words in it, as a sentence."""
        said = text.format(hero=self.kind.hero.lower(), space=self.kind.space.lower())
        return said[:1].upper() + said[1:]

    def doer(self, key: str) -> uuid.UUID:
        return self.rng.choice(self.people[key])


def _project(rows: _Rows, rng: random.Random, org: uuid.UUID, index: int,
             people: dict[str, list[uuid.UUID]], clients: list[uuid.UUID]) -> None:
    kind = PROJECT_KINDS[index % len(PROJECT_KINDS)]
    cycle = index // len(PROJECT_KINDS)
    site = kind.site if cycle == 0 else SITES[(index + cycle) % len(SITES)]
    # Later copies of a kind of job started earlier: the firm's history, mostly finished.
    start = TODAY + dt.timedelta(weeks=kind.starts_in_weeks - 3 * cycle)
    timeline = Timeline(start, start + dt.timedelta(weeks=kind.weeks),
                        kind.on_hold and cycle == 0)
    name = kind.name.format(site=site)
    if cycle >= len(SITES):
        name += f", phase {cycle // len(SITES) + 1}"
    pm = people["project_manager"][index % 2]
    pid = rows.add(
        "projects", org_id=org, name=name, type=kind.type, status=timeline.status,
        priority=rng.choice(["medium", "medium", "high", "high", "urgent", "low"]),
        start_date=timeline.start, end_date=timeline.end,
        progress=5 * round(timeline.elapsed * 20), location=f"{site}, İstanbul",
        client_id=clients[kind.client], project_manager_id=pm, created_by=people["admin"][0],
        description=f"Interior fit-out for {CLIENTS[kind.client].company}: {kind.hero.lower()}"
                    f", {kind.space.lower()} and back-of-house areas in {site}.")
    team = [pm, *people["designer"], *people["coordinator"], *people["craftsman"]]
    for uid in team:
        role = next(r for r in ("project_manager", "designer", "coordinator", "craftsman")
                    if uid in people[r])
        rows.add("project_members", org_id=org, project_id=pid, user_id=uid, role=role)
    job = _Job(rows, rng, org, pid, kind, timeline, {**people, "project_manager": [pm]})
    items, total = _scope(job)
    # The budget: the bill of quantities and a 12 % contingency, in thousands.
    rows.tables["projects"][-1]["budget"] = (total * Decimal("1.12") / 1000).quantize(1) * 1000
    _tasks(job, items)
    _drawings(job)
    _specs(job)


def _scope(job: _Job) -> tuple[dict[str, uuid.UUID], Decimal]:
    """The bill of quantities: its items by code, and its total."""
    items: dict[str, uuid.UUID] = {}
    total = Decimal(0)
    spread = Decimal(job.rng.randrange(90, 116)) / 100  # this job's prices against the list
    for order, group in enumerate(SCOPE):
        gid = job.rows.add("scope_groups", org_id=job.org, project_id=job.project,
                           name=group.name, order_index=order)
        for index, line in enumerate(group.lines):
            window = _line_window(group.window, index, len(group.lines))
            completion = _tens(_share(job.timeline.elapsed, window))
            qty = Decimal(job.rng.randint(*line.quantity))
            price = (line.unit_price * spread).quantize(CENT)
            total += qty * price
            items[line.code] = job.rows.add(
                "scope_items", org_id=job.org, project_id=job.project, scope_group_id=gid,
                code=line.code, name=job.words(line.name),
                category=group.name, quantity=qty, unit=line.unit, unit_price=price,
                total_price=(qty * price).quantize(CENT),
                status=scope_status(completion, job.timeline.on_hold), completion=completion,
                start_date=job.timeline.day(window[0]), end_date=job.timeline.day(window[1]),
                task_ids=[])
    return items, total


def _task_state(job: _Job, plan: TaskPlan) -> tuple[str, int]:
    """(status, progress) of a planned task on the demo's "today"."""
    done = _share(job.timeline.elapsed, plan.window)
    if done >= 1:
        return ("review", 90) if job.rng.random() < 0.08 else ("completed", 100)
    if done <= 0:
        return "pending", 0
    return "in_progress", min(90, max(10, _tens(done)))


def _tasks(job: _Job, items: dict[str, uuid.UUID]) -> None:
    for plan in TASKS:
        status, progress = _task_state(job, plan)
        start, due = job.timeline.day(plan.window[0]), job.timeline.day(plan.window[1])
        tid = job.rows.add(
            "tasks", org_id=job.org, project_id=job.project, name=job.words(plan.name),
            description=TASK_NOTES[plan.category],
            status=status, priority=job.rng.choice(["low", "medium", "medium", "high"]),
            assigned_to=job.doer(plan.doer), created_by=job.people["project_manager"][0],
            start_date=start, due_date=due, progress=progress,
            estimated_hours=Decimal(plan.hours),
            actual_hours=Decimal(round(plan.hours * job.rng.uniform(0.8, 1.3)))
            if status == "completed" else None,
            completed_at=dt.datetime.combine(due, dt.time(15, 30), dt.UTC)
            if status == "completed" else None,
            category=plan.category, scope_item_ids=[])
        if plan.scope is not None:
            job.rows.link(job.org, job.project, items[plan.scope], tid)


def _sheet_state(job: _Job, sheet: Sheet) -> tuple[str, str]:
    """(status, revision) of a drawing on the demo's "today"."""
    elapsed = job.timeline.elapsed
    if elapsed >= sheet.approved_by:
        revision = job.rng.choice(["Rev A", "Rev A", "Rev B", "Rev B", "Rev C"])
        return job.rng.choice(["approved", "approved", "approved_as_noted"]), revision
    if elapsed >= sheet.approved_by - 0.1:
        return job.rng.choice(["submitted", "in_review", "revise_and_resubmit"]), "Rev A"
    return "draft", "Rev A"


def _drawings(job: _Job) -> None:
    for sheet in SHEETS:
        status, revision = _sheet_state(job, sheet)
        approved = status in ("approved", "approved_as_noted")
        submitted = job.timeline.day(max(0.0, sheet.approved_by - 0.1))
        job.rows.add(
            "shop_drawings", org_id=job.org, project_id=job.project,
            drawing_number=sheet.number, title=job.words(sheet.title),
            drawing_type=sheet.drawing_type,
            room=job.words(sheet.room) if sheet.room else None,
            status=status, revision=revision, created_by=job.people["Lead"][0],
            submitted_by=job.doer("designer") if status != "draft" else None,
            submitted_at=_at(submitted) if status != "draft" else None,
            approved_by=job.people["project_manager"][0] if approved else None,
            approved_at=_at(job.timeline.day(sheet.approved_by)) if approved else None)


def _spec_status(job: _Job, material: Material) -> str:
    """Where a material stands on the demo's "today", from when it is needed on site."""
    needed = job.timeline.day(material.needed_by)
    ordered = needed - dt.timedelta(days=material.lead_days + 7)
    approved = ordered - dt.timedelta(days=14)
    if job.timeline.status == "completed":
        return "used"
    if TODAY >= needed:
        return "delivered"
    if TODAY >= ordered:
        return "ordered"
    if TODAY >= approved:
        return "approved"
    return "pending_approval" if TODAY >= approved - dt.timedelta(days=21) else "pending"


def _specs(job: _Job) -> None:
    for material in MATERIALS:
        qty = Decimal(job.rng.randint(*material.quantity))
        cost = (Decimal(material.unit_cost) * Decimal(job.rng.randrange(92, 109)) / 100
                ).quantize(CENT)
        status = _spec_status(job, material)
        approved = status not in ("pending", "pending_approval")
        job.rows.add(
            "material_specs", org_id=job.org, project_id=job.project, code=material.code,
            description=job.words(material.description), category=material.category,
            material=material.material, finish=material.finish,
            manufacturer=material.manufacturer, supplier_name=material.supplier,
            quantity=qty, unit=material.unit, unit_cost=cost,
            total_cost=(qty * cost).quantize(CENT), lead_time_days=material.lead_days,
            status=status, created_by=job.doer("designer"),
            approved_by=job.people["project_manager"][0] if approved else None,
            approved_at=_at(job.timeline.day(material.needed_by)
                            - dt.timedelta(days=material.lead_days + 21))
            if approved else None)


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(11), dt.UTC)


def build_demo(projects: int, password_hash: str, seed: int = 2026) -> _Rows:
    """Every row of the demo firm, not yet written: a pure function of its arguments."""
    rng = random.Random(seed)
    rows = _Rows(random.Random(seed + 1))
    # The demo firm works in Istanbul: Monday to Friday, its days in Turkish time.
    org = rows.add("organizations", name=ORG_NAME, slug=ORG_SLUG, time_zone="Europe/Istanbul")
    clients = _clients(rows, org)
    people = _people(rows, org, password_hash, clients)
    for index in range(projects):
        _project(rows, rng, org, index, people, clients)
    return rows


async def _insert(conn: asyncpg.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    columns = sorted({c for row in rows for c in row})
    await bulk.insert_rows(conn, table, columns, [[row.get(c) for c in columns] for row in rows])


async def seed_demo(pool: asyncpg.Pool, *, projects: int = 8, password: str,
                    seed: int = 2026) -> dict[str, Any]:
    """Load the demo organisation (once); returns the logins. Deterministic for a seed."""
    async with system_transaction(pool) as conn:
        if await organizations.id_by_slug(conn, ORG_SLUG):
            return {"created": False, "logins": []}
    rows = build_demo(projects, await hash_password(password), seed)
    org = rows.tables["organizations"][0]["id"]
    admin = next(u["id"] for u in rows.tables["users"] if u["role"] == "admin")
    async with system_transaction(pool, Actor(admin, org, request_id="seed-demo")) as conn:
        await locks.hold_for_transaction(conn, 7201015)  # two seeders: one wins
        if await organizations.id_by_slug(conn, ORG_SLUG):
            return {"created": False, "logins": []}
        for table in TABLES:
            await _insert(conn, table, rows.tables.get(table, []))
    logins = [{"email": u["email"], "role": u["role"]} for u in rows.tables["users"]]
    return {"created": True, "org": ORG_SLUG, "logins": logins, "password": password,
            "counts": {t: len(r) for t, r in rows.tables.items()}}
