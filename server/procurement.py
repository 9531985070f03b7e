"""At-risk flags of material specs, kept on the spec (`risk_reasons`, `at_risk`) so that a
flip is seen exactly once: by the write that causes it (its own UPDATE carries the new
flags) or, when only the date moved on, by the periodic check. Every worker wakes every few
minutes; the one that gets the advisory lock recomputes the flags, and each change is a
guarded UPDATE (`WHERE risk_reasons = <what was read>`), so even two checks at once flip a
flag once. A flip is a `material_spec.updated` event (`changed_fields` names `at_risk` /
`risk_reasons`) and one notification to the project's manager (`type: "procurement_risk"`).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from aiohttp import web

from db.pool import system_transaction
from db.queries import procurement as queries
from db.queries.locks import try_session_lock, unlock_session
from db.queries.notifications import notify
from rules import calendar as cal_rules
from rules import procurement as rules
from rules.errors import InvalidInput
from server import calendar
from server.keys import POOL
from server.periodic import running

log = logging.getLogger("formula_pm.procurement")

CHECK_INTERVAL = 300.0  # seconds between two checks of one worker
CHECK_EVERY = web.AppKey("procurement_check_interval", float)
LOCK = "procurement-risk-check"
BATCH = 500


def flags_for(cal: cal_rules.Calendar, spec: Mapping[str, Any],
              now: dt.datetime | None = None) -> list[str]:
    return list(rules.risks_of(cal, calendar.today_in(cal, now), spec))


async def with_flags(conn: asyncpg.Connection, project_id: uuid.UUID,
                     merged: Mapping[str, Any], was: Sequence[str]) -> dict[str, Any]:
    """The flag columns to write with a spec's change (nothing when they stay)."""
    flags = flags_for(await calendar.for_project(conn, project_id), merged)
    if flags == list(was):
        return {}
    return {"risk_reasons": flags, "at_risk": bool(flags)}


async def tell(conn: asyncpg.Connection, spec: Mapping[str, Any], was: Sequence[str]) -> None:
    """One notification to the project manager of a flip of the spec's flags."""
    now = list(spec["risk_reasons"])
    if now == list(was):
        return
    manager = await queries.project_manager(conn, spec["project_id"])
    if manager is None:
        return
    raised = [r for r in now if r not in was]
    cleared = [r for r in was if r not in now]
    name = spec["code"] or spec["description"][:60]
    title = (f"Material spec {name} is at risk: {', '.join(now)}" if now
             else f"Material spec {name} is no longer at risk")
    await notify(conn, org_id=spec["org_id"], user_ids=[manager],
                 project_id=spec["project_id"], kind="procurement_risk", title=title[:300],
                 message=title[:200], data={
                     "entity_type": "material_spec", "entity_id": str(spec["id"]),
                     "project_id": str(spec["project_id"]), "risk_reasons": now,
                     "raised": raised, "cleared": cleared})


@dataclass
class CheckReport:
    checked: int = 0
    flipped: int = 0
    skipped: bool = False  # another worker holds the lock


def _calendar(row: Mapping[str, Any]) -> tuple[cal_rules.Calendar, dt.tzinfo]:
    cal = cal_rules.Calendar(row["time_zone"], frozenset(row["workdays"]),
                             frozenset(row["holidays"]))
    return cal, ZoneInfo(row["time_zone"])


async def check(app: web.Application, now: dt.datetime | None = None) -> CheckReport:
    """One pass over every spec with a schedule (every worker may call it; one at a time
    does the work, and a flip is written once even without the lock)."""
    pool = app[POOL]
    moment = now or dt.datetime.now(dt.UTC)
    report = CheckReport()
    async with pool.acquire() as lock_conn:
        if not await try_session_lock(lock_conn, LOCK):
            report.skipped = True
            return report
        try:
            after: uuid.UUID | None = None
            while True:
                async with system_transaction(pool) as conn:
                    rows = await queries.risk_candidates(conn, after, BATCH)
                    for row in rows:
                        cal, zone = _calendar(row)
                        try:
                            flags = list(rules.risks_of(cal, cal_rules.today(moment, zone), row))
                        except InvalidInput:
                            continue  # a calendar without working days: nothing to say
                        report.checked += 1
                        if flags == list(row["risk_reasons"]):
                            continue
                        changed = await queries.set_risks(conn, row["id"], row["risk_reasons"],
                                                          flags)
                        if changed is not None:
                            report.flipped += 1
                            await tell(conn, changed, row["risk_reasons"])
                if len(rows) < BATCH:
                    return report
                after = rows[-1]["id"]
        finally:
            await unlock_session(lock_conn, LOCK)


def _check_facts(report: CheckReport) -> dict[str, int] | None:
    return ({"checked": report.checked, "flipped": report.flipped} if report.flipped
            else None)


def setup_procurement(app: web.Application) -> None:
    """Start the periodic at-risk check with the app (after the pool is up)."""
    app.setdefault(CHECK_EVERY, CHECK_INTERVAL)
    app.cleanup_ctx.append(_check_ctx)


async def _check_ctx(app: web.Application) -> AsyncIterator[None]:
    async with running(app[CHECK_EVERY], "procurement check", lambda: check(app),
                       _check_facts):
        yield
