"""A deterministic demo fit-out firm: people in every role, clients, and N projects with
scope, tasks, drawings and specs. Written here, no third-party data; `--projects` scales it
for benchmarks."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg

from db.pool import Actor, system_transaction
from server.auth.passwords import hash_password

ORG_SLUG = "formula-demo"
ORG_NAME = "Formula Interiors (demo)"

PEOPLE = [  # first, last, role, position, department
    ("Selin", "Aydın", "admin", "Managing Director", "Management"),
    ("Murat", "Kaya", "project_manager", "Senior Project Manager", "Projects"),
    ("Elif", "Şahin", "project_manager", "Project Manager", "Projects"),
    ("Deniz", "Yılmaz", "designer", "Lead Designer", "Design"),
    ("Zeynep", "Çelik", "designer", "Technical Designer", "Design"),
    ("Can", "Demir", "coordinator", "Site Coordinator", "Site"),
    ("Ahmet", "Öztürk", "craftsman", "Millwork Foreman", "Workshop"),
    ("Burak", "Arslan", "craftsman", "Electrician", "Site"),
    ("Oğuz", "Koç", "craftsman", "Painter", "Site"),
]
CLIENTS = [
    ("Akbank", "Akbank T.A.Ş.", "Banking"), ("Garanti Retail", "Garanti Retail A.Ş.", "Retail"),
    ("Bosphorus Hotels", "Bosphorus Hotels Ltd.", "Hospitality"),
    ("Marmara Offices", "Marmara Office Parks", "Real estate"),
    ("Anadolu Clinics", "Anadolu Sağlık Grubu", "Healthcare"),
    ("Cafe Nero TR", "Nero Coffee Türkiye", "Food & beverage"),
]
SITES = ["Levent", "Maslak", "Kadıköy", "Beşiktaş", "Ataşehir", "Nişantaşı", "Karaköy", "Şişli"]
PROJECT_KINDS = [("Branch Fit-Out", "fit_out"), ("Flagship Store", "retail"),
                 ("Lobby Renovation", "hospitality"), ("Head Office Floor", "office"),
                 ("Clinic Refurbishment", "healthcare"), ("Coffee Bar", "commercial")]
GROUPS = {
    "construction": [("Demolition", "lot"), ("Gypsum partition walls", "sqm"),
                     ("Porcelain floor tiling", "sqm"), ("Suspended ceiling", "sqm"),
                     ("Wall painting", "sqm"), ("Glass partition", "sqm")],
    "millwork": [("Reception desk", "pcs"), ("Wall panelling in walnut veneer", "sqm"),
                 ("Display shelving", "lm"), ("Kitchenette cabinets", "lm"),
                 ("Custom joinery doors", "pcs")],
    "electric": [("Lighting installation", "pcs"), ("Power distribution board", "pcs"),
                 ("Data cabling", "m"), ("Emergency lighting", "pcs")],
    "mep": [("HVAC ducting", "m"), ("Fan coil units", "pcs"), ("Plumbing for wet areas", "lot"),
            ("Sprinkler relocation", "pcs")],
}
TASK_VERBS = ["Measure", "Install", "Check", "Order", "Prepare", "Coordinate", "Inspect",
              "Deliver", "Paint", "Fix"]
TASK_THINGS = ["reception desk", "ceiling grid", "floor tiles", "lighting fixtures",
               "glass partition", "site survey", "fire sealing", "door hardware",
               "wall panels", "data cabling", "HVAC grilles", "signage"]
MATERIALS = [("Walnut veneer panel", "Wood", "Oiled", "Decospan", "Ağaç Market"),
             ("Porcelain tile 60x120", "Ceramic", "Matt", "Vitra", "Yapı Merkezi"),
             ("Tempered glass 10 mm", "Glass", "Clear", "Şişecam", "Cam İş"),
             ("LED downlight 12W", "Aluminium", "White", "Philips", "Elektrik Dünyası"),
             ("Acoustic ceiling tile", "Mineral fibre", "White", "Armstrong", "Tavan Sistem"),
             ("Quartz worktop", "Quartz", "Polished", "Caesarstone", "Mutfak Taş")]
DRAWING_TYPES = ["Millwork", "Ceiling plan", "Electrical layout", "Flooring plan", "Elevation"]
ROOMS = ["Reception", "Lobby", "Meeting room", "Open office", "Kitchen", "Banking hall",
         "Manager office", "Storage"]


@dataclass
class _Rows:
    """Rows per table, in insertion order, gathered before one bulk insert each."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    by_id: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)

    def add(self, table: str, **values: Any) -> uuid.UUID:
        values.setdefault("id", uuid.uuid4())
        self.tables.setdefault(table, []).append(values)
        self.by_id[values["id"]] = values
        return uuid.UUID(str(values["id"]))

    def link(self, org: uuid.UUID, pid: uuid.UUID, item: uuid.UUID, task: uuid.UUID) -> None:
        """An item link, with both mirrored id lists filled in already, so that the link
        trigger finds nothing left to update (a bulk load stays one write per row)."""
        self.add("item_links", org_id=org, project_id=pid, scope_item_id=item, task_id=task)
        self.by_id[task]["scope_item_ids"].append(item)
        self.by_id[item]["task_ids"] = sorted({*self.by_id[item]["task_ids"], task})


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _people(rows: _Rows, rng: random.Random, org: uuid.UUID, password_hash: str,
            clients: list[uuid.UUID]) -> dict[str, list[uuid.UUID]]:
    by_role: dict[str, list[uuid.UUID]] = {}
    for first, last, role, position, department in PEOPLE:
        email = f"{_ascii(first)}.{_ascii(last)}@formula-demo.test".lower()
        uid = rows.add("users", id=_uuid(rng), org_id=org, email=email, first_name=first,
                       last_name=last, role=role, position=position, department=department,
                       password_hash=password_hash, status="active")
        by_role.setdefault(role, []).append(uid)
    uid = rows.add("users", id=_uuid(rng), org_id=org, email="client@formula-demo.test",
                   first_name="Kerem", last_name="Aksoy", role="client", client_id=clients[0],
                   position="Facilities Manager", password_hash=password_hash, status="active")
    by_role["client"] = [uid]
    return by_role


def _ascii(text: str) -> str:
    table = str.maketrans("ıİşŞğĞüÜöÖçÇ", "iIsSgGuUoOcC")
    return text.translate(table)


def _project(rows: _Rows, rng: random.Random, org: uuid.UUID, index: int,
             people: dict[str, list[uuid.UUID]], clients: list[uuid.UUID]) -> None:
    kind, ptype = PROJECT_KINDS[index % len(PROJECT_KINDS)]
    client_index = index % len(clients)
    start = dt.date(2026, 1, 5) + dt.timedelta(days=7 * (index % 40))
    pm = people["project_manager"][index % 2]
    pid = rows.add(
        "projects", id=_uuid(rng), org_id=org, name=f"{SITES[index % len(SITES)]} {kind}"
        + (f" #{index + 1}" if index >= len(SITES) else ""), type=ptype,
        status=rng.choice(["active", "active", "active", "on_tender", "on_hold", "completed"]),
        priority=rng.choice(["low", "medium", "medium", "high", "urgent"]),
        budget=Decimal(rng.randrange(400, 9000) * 1000), start_date=start,
        end_date=start + dt.timedelta(days=rng.randrange(60, 240)),
        progress=rng.randrange(0, 101, 5), location=f"{SITES[index % len(SITES)]}, İstanbul",
        client_id=clients[client_index], project_manager_id=pm, created_by=people["admin"][0],
        description=f"Interior fit-out of the {kind.lower()} in {SITES[index % len(SITES)]}.",
    )
    team = [pm, *people["designer"], *people["coordinator"], *people["craftsman"]]
    for uid in team:
        role = next(r for r, ids in people.items() if uid in ids)
        rows.add("project_members", org_id=org, project_id=pid, user_id=uid, role=role)
    items = _scope(rows, rng, org, pid)
    _tasks(rows, rng, org, pid, team, start, items)
    _drawings(rows, rng, org, pid, index, people)
    _specs(rows, rng, org, pid, people)


def _scope(rows: _Rows, rng: random.Random, org: uuid.UUID, pid: uuid.UUID) -> list[uuid.UUID]:
    items = []
    number = 1
    for order, (group, entries) in enumerate(GROUPS.items()):
        gid = rows.add("scope_groups", org_id=org, project_id=pid, name=group, order_index=order)
        for name, unit in entries:
            qty = Decimal(rng.randrange(1, 400))
            price = Decimal(rng.randrange(50, 25000)) / 4
            items.append(rows.add(
                "scope_items", org_id=org, project_id=pid, scope_group_id=gid,
                code=f"SCOPE{number:03d}", name=name, category=group.title(), quantity=qty,
                unit=unit, unit_price=price.quantize(Decimal("0.01")),
                total_price=(qty * price).quantize(Decimal("0.01")),
                status=rng.choice(["pending", "in_progress", "completed"]),
                completion=rng.randrange(0, 101, 10), task_ids=[]))
            number += 1
    return items


def _tasks(rows: _Rows, rng: random.Random, org: uuid.UUID, pid: uuid.UUID,
           team: list[uuid.UUID], start: dt.date, items: list[uuid.UUID]) -> None:
    for n in range(40):
        status = rng.choice(["pending", "pending", "in_progress", "review", "completed"])
        due = start + dt.timedelta(days=rng.randrange(5, 120))
        tid = rows.add(
            "tasks", org_id=org, project_id=pid,
            name=f"{rng.choice(TASK_VERBS)} {rng.choice(TASK_THINGS)} ({n + 1})",
            description="Coordinate with the site team and record measurements.",
            status=status, priority=rng.choice(["low", "medium", "high", "urgent"]),
            assigned_to=rng.choice(team), start_date=start, due_date=due,
            progress=100 if status == "completed" else rng.randrange(0, 90, 10),
            estimated_hours=Decimal(rng.randrange(2, 60)),
            completed_at=dt.datetime.combine(due, dt.time(17), dt.UTC)
            if status == "completed" else None,
            category=rng.choice(["construction", "millwork", "electric", "mep"]),
            scope_item_ids=[])
        if n % 4 == 0:
            rows.link(org, pid, rng.choice(items), tid)


def _drawings(rows: _Rows, rng: random.Random, org: uuid.UUID, pid: uuid.UUID, index: int,
              people: dict[str, list[uuid.UUID]]) -> None:
    for n in range(15):
        status = rng.choice(["draft", "submitted", "in_review", "approved", "approved_as_noted",
                             "revise_and_resubmit"])
        approved = status in ("approved", "approved_as_noted")
        rows.add(
            "shop_drawings", org_id=org, project_id=pid,
            drawing_number=f"FM-{index + 1:04d}-{n + 1:03d}",
            title=f"{rng.choice(DRAWING_TYPES)} — {rng.choice(ROOMS)}",
            drawing_type=rng.choice(DRAWING_TYPES), room=rng.choice(ROOMS), status=status,
            created_by=people["designer"][0],
            submitted_by=people["designer"][0] if status != "draft" else None,
            approved_by=people["project_manager"][0] if approved else None,
            approved_at=dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC) if approved else None)


def _specs(rows: _Rows, rng: random.Random, org: uuid.UUID, pid: uuid.UUID,
           people: dict[str, list[uuid.UUID]]) -> None:
    for n in range(20):
        desc, material, finish, maker, supplier = rng.choice(MATERIALS)
        qty = Decimal(rng.randrange(1, 300))
        cost = (Decimal(rng.randrange(100, 90000)) / 100).quantize(Decimal("0.01"))
        status = rng.choice(["pending", "pending_approval", "approved", "ordered", "delivered"])
        rows.add(
            "material_specs", org_id=org, project_id=pid, code=f"SPEC{n + 1:03d}",
            description=desc, category=material, material=material, finish=finish,
            manufacturer=maker, supplier_name=supplier, quantity=qty, unit="pcs",
            unit_cost=cost, total_cost=(qty * cost).quantize(Decimal("0.01")),
            lead_time_days=rng.randrange(3, 60), status=status, created_by=people["designer"][1],
            approved_by=people["project_manager"][0] if status != "pending" else None)


async def _insert(conn: asyncpg.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    columns = sorted({c for row in rows for c in row})
    placeholders = ", ".join(f"${i + 1}" for i in range(len(columns)))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
    await conn.executemany(sql, [[row.get(c) for c in columns] for row in rows])


async def seed_demo(pool: asyncpg.Pool, *, projects: int = 8, password: str,
                    seed: int = 2026) -> dict[str, Any]:
    """Load the demo organisation (once); returns the logins. Deterministic for a seed."""
    rng = random.Random(seed)
    async with system_transaction(pool) as conn:
        if await conn.fetchval("SELECT id FROM organizations WHERE slug = $1", ORG_SLUG):
            return {"created": False, "logins": []}
    password_hash = await hash_password(password)
    rows = _Rows()
    org = rows.add("organizations", id=_uuid(rng), name=ORG_NAME, slug=ORG_SLUG)
    clients = [rows.add("clients", id=_uuid(rng), org_id=org, name=name, company_name=company,
                        industry=industry, status="active", city="İstanbul", country="Türkiye",
                        contact_person="Operations", payment_terms="Net 30")
               for name, company, industry in CLIENTS]
    people = _people(rows, rng, org, password_hash, clients)
    for index in range(projects):
        _project(rows, rng, org, index, people, clients)
    admin = people["admin"][0]
    async with system_transaction(pool, Actor(admin, org, request_id="seed-demo")) as conn:
        await conn.execute("SELECT pg_advisory_xact_lock(7201015)")  # two seeders: one wins
        if await conn.fetchval("SELECT 1 FROM organizations WHERE slug = $1", ORG_SLUG):
            return {"created": False, "logins": []}
        for table in ("organizations", "clients", "users", "projects", "project_members",
                      "scope_groups", "scope_items", "tasks", "item_links", "shop_drawings",
                      "material_specs"):
            await _insert(conn, table, rows.tables.get(table, []))
    logins = [{"email": u["email"], "role": u["role"]} for u in rows.tables["users"]]
    return {"created": True, "org": ORG_SLUG, "logins": logins, "password": password,
            "counts": {t: len(r) for t, r in rows.tables.items()}}
