"""The daily job: "action required" reminders, the daily digests and the e-mails of
notifications sent at once.

Every worker wakes every minute; the one that takes the advisory lock (`LOCK`, like the file
sweep) runs one pass (`run_pass(app, now)`, which tests call with any instant). Every send is
also idempotent in the database, so two workers, a lost lock or a restart never send twice:
- a reminder is a `reminders_sent` row (kind of task, task, user, day in the project's zone)
  inserted ON CONFLICT DO NOTHING in the transaction that writes the notification;
- a digest is a `digests_sent` row (user, day in the organisation's zone), claimed with its
  deliveries marked sent in one transaction before the mail goes out; a mail that fails gives
  both back for the next pass (a worker killed between the claim and the mail loses that
  one digest: at most once a day, never twice);
- a notification mailed at once is a `notification_deliveries` row marked sent in the same
  way.
Reminders and digests go out from 07:00 local time (`rules.notifications.SEND_HOUR`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
from aiohttp import web

from db.pool import system_transaction
from db.queries import reminders as queries
from db.queries.locks import try_session_lock, unlock_session
from db.queries.notifications import Note, notify_each
from rules import calendar as cal_rules
from rules import notifications as rules
from server.keys import MAILER, POOL
from server.mailer import Mail, MailHeaderError
from server.periodic import running

log = logging.getLogger("formula_pm.reminders")

LOCK = "daily-reminders"
INTERVAL = 60.0  # seconds between two passes of a worker
BATCH = 200  # e-mails or digests one pass sends at most (the next pass goes on)
EVERY = web.AppKey("reminders_interval", float)


@dataclass
class PassReport:
    reminders: int = 0
    digests: int = 0
    emails: int = 0
    failed: int = 0
    skipped: bool = False  # another worker holds the lock


def _zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def sending_days(zones: list[str], now: dt.datetime) -> dict[str, dt.date]:
    """The zones where it is past the sending hour at `now`, with their local date (a zone
    the tz database does not know counts as UTC)."""
    days = {}
    for name in zones:
        local = now.astimezone(_zone(name))
        if local.hour >= rules.SEND_HOUR:
            days[name] = local.date()
    return days


async def remind(pool: asyncpg.Pool, now: dt.datetime) -> int:
    """The reminders due at `now`; how many were written."""
    async with system_transaction(pool) as conn:
        days = sending_days(await queries.zones(conn), now)
        rows = await queries.candidates(conn, days) if days else []
        due: list[tuple[asyncpg.Record, str]] = []
        for row in rows:
            cal = cal_rules.Calendar(row["time_zone"], frozenset(row["workdays"]),
                                     frozenset(row["holidays"]))
            state = rules.reminder_state(cal, row["due_on"], row["day"])
            if state is not None:
                due.append((row, state))
        if not due:
            return 0
        fresh = await queries.claim_reminders(
            conn, [r["task_kind"] for r, _ in due], [r["task_id"] for r, _ in due],
            [r["user_id"] for r, _ in due], [r["day"] for r, _ in due],
            [r["org_id"] for r, _ in due])
        notes = []
        for row, state in due:
            if (row["task_kind"], row["task_id"], row["user_id"]) not in fresh:
                continue
            title, message = rules.reminder_text(row["task_kind"], row["name"],
                                                 row["due_on"], state, row["day"])
            notes.append(Note(row["org_id"], row["user_id"], row["project_id"],
                              rules.ACTION_REQUIRED, title, message, {
                                  "task_kind": row["task_kind"],
                                  "task_id": str(row["task_id"]),
                                  "project_id": str(row["project_id"]),
                                  "due_on": row["due_on"].isoformat(), "state": state}))
        await notify_each(conn, notes)
        oldest = min(days.values()) - dt.timedelta(days=rules.REMINDER_DAYS + 2)
        await queries.forget_reminders(conn, oldest)
    return len(notes)


async def _send(app: web.Application, mail: Mail) -> bool:
    try:
        await app[MAILER].send(mail)
    except (OSError, MailHeaderError, TimeoutError) as exc:
        log.warning("mail not sent, retried on the next pass: %s", exc)
        return False
    return True


async def mail_now(app: web.Application) -> tuple[int, int]:
    """E-mails of notifications whose recipients chose `email`; (sent, failed)."""
    pool = app[POOL]
    async with system_transaction(pool) as conn:
        ids = await queries.take_pending(conn, "email", None, BATCH)
        rows = await queries.readable_notifications(conn, ids) if ids else []
    sent = failed = 0
    for row in rows:
        try:
            mail = Mail(to=row["email"], subject=row["title"][:200],
                        body=f"{row['message']}\n\n" + (f"Project: {row['project']}\n"
                                                        if row["project"] else ""))
        except MailHeaderError as exc:
            log.warning("notification %s not mailed: %s", row["id"], exc)
            continue
        if await _send(app, mail):
            sent += 1
        else:
            failed += 1
            async with system_transaction(pool) as conn:
                await queries.give_back(conn, [row["id"]])
    return sent, failed


async def digests(app: web.Application, now: dt.datetime) -> tuple[int, int]:
    """Each user's daily digest, once a day from SEND_HOUR in their organisation's zone;
    (sent, failed)."""
    pool = app[POOL]
    async with system_transaction(pool) as conn:
        days = sending_days(await queries.zones(conn), now)
        users = await queries.digest_users(conn, days, BATCH) if days else []
    sent = failed = 0
    for user in users:
        day = user["day"]
        async with system_transaction(pool) as conn:
            if not await queries.claim_digest(conn, user["id"], user["org_id"], day):
                continue
            ids = await queries.take_pending(conn, "digest", user["id"], 1000)
            rows = await queries.readable_notifications(conn, ids)
            await queries.set_digest_items(conn, user["id"], day, len(rows))
        if not rows:
            continue
        subject, text, body_html = rules.digest(user["first_name"], day, [
            rules.DigestItem(r["type"], r["title"], r["message"], r["project"], r["created_at"])
            for r in rows])
        try:
            mail = Mail(to=user["email"], subject=subject, body=text, html=body_html)
        except MailHeaderError as exc:
            log.warning("digest of %s not mailed: %s", user["id"], exc)
            continue
        if await _send(app, mail):
            sent += 1
        else:
            failed += 1
            async with system_transaction(pool) as conn:
                await queries.give_back(conn, ids, (user["id"], day))
    return sent, failed


async def run_pass(app: web.Application, now: dt.datetime | None = None) -> PassReport:
    """One pass at the instant `now` (default: the clock). Every worker may call it; one at
    a time does the work."""
    now = now or dt.datetime.now(dt.UTC)
    report = PassReport()
    async with app[POOL].acquire() as lock_conn:
        if not await try_session_lock(lock_conn, LOCK):
            report.skipped = True
            return report
        try:
            report.reminders = await remind(app[POOL], now)
            report.digests, failed_digests = await digests(app, now)
            report.emails, failed_mails = await mail_now(app)
            report.failed = failed_digests + failed_mails
        finally:
            await unlock_session(lock_conn, LOCK)
    return report


def _pass_facts(report: PassReport) -> dict[str, int] | None:
    if report.reminders or report.digests or report.emails or report.failed:
        return {"reminders": report.reminders, "digests": report.digests,
                "emails": report.emails, "failed": report.failed}
    return None


def setup_reminders(app: web.Application) -> None:
    """Start the job with the app, stop it before the pool closes."""
    app.setdefault(EVERY, INTERVAL)
    app.cleanup_ctx.append(_reminders_ctx)


async def _reminders_ctx(app: web.Application) -> AsyncIterator[None]:
    async with running(app[EVERY], "reminder pass", lambda: run_pass(app), _pass_facts):
        yield
