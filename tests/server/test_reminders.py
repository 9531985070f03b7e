"""Reminders and notifications people control: preferences over HTTP, the channels honoured
by every notification, the daily reminders (exactly once a day per task and person, with two
workers and a restart), the daily digest, and nothing ever reaching a user who cannot read
the project."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from db.pool import system_transaction
from server.keys import MAILER, POOL
from server.reminders import remind, run_pass
from tests.conftest import Outbox, World
from tests.server.project_team import Team, make_team, send

Client = TestClient[Any, Any]
URL = "/api/v1/me/notification-preferences"
# A Monday, 09:00 UTC: 09:00 in the (UTC) organisation, after the 07:00 send hour.
MONDAY = dt.datetime(2026, 3, 16, 9, 0, tzinfo=dt.UTC)


def _worker(pool: asyncpg.Pool) -> web.Application:
    """Another worker: its own pool, its own mailer, the same database."""
    app = web.Application()
    app[POOL] = pool
    app[MAILER] = Outbox()
    return app


async def _task(pool: asyncpg.Pool, team: Team, who: str, due: dt.date,
                name: str = "Fix the ceiling", status: str = "pending") -> uuid.UUID:
    async with system_transaction(pool) as conn:
        task_id: uuid.UUID = await conn.fetchval(
            """INSERT INTO tasks (org_id, project_id, name, assigned_to, due_date, status)
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
            team.org, team.project, name, team.users[who]["id"], due, status)
    return task_id


async def _review_task(pool: asyncpg.Pool, team: Team, kind: str, ref: str,
                       due: dt.date) -> uuid.UUID:
    async with system_transaction(pool) as conn:
        review = await conn.fetchval(
            """INSERT INTO reviews (org_id, project_id, entity_type, entity_id, name, outcomes,
                                    steps, started_on)
               VALUES ($1, $2, 'shop_drawing', gen_random_uuid(), 'Joinery review', '[]',
                       '[]', $3) RETURNING id""", team.org, team.project, due)
        task_id: uuid.UUID = await conn.fetchval(
            """INSERT INTO review_tasks (org_id, project_id, review_id, step, reviewer_kind,
                                         reviewer_ref, due_on)
               VALUES ($1, $2, $3, 0, $4, $5, $6) RETURNING id""",
            team.org, team.project, review, kind, ref, due)
    return task_id


async def _rfi(pool: asyncpg.Pool, team: Team, distribution: list[uuid.UUID],
               due: dt.date) -> uuid.UUID:
    async with system_transaction(pool) as conn:
        rfi_id: uuid.UUID = await conn.fetchval(
            """INSERT INTO rfis (org_id, project_id, seq, number, subject, question, due_on,
                                 distribution, status)
               VALUES ($1, $2, 1, 'RFI-001', 'Ceiling height', 'Which one?', $3, $4, 'open')
               RETURNING id""", team.org, team.project, due, distribution)
    return rfi_id


async def _reminders(pool: asyncpg.Pool, user: dict[str, Any] | None = None) -> list[Any]:
    async with system_transaction(pool) as conn:
        return list(await conn.fetch(
            """SELECT user_id, title, data FROM notifications WHERE type = 'action_required'
               AND ($1::uuid IS NULL OR user_id = $1) ORDER BY created_at, id""",
            user["id"] if user else None))


async def _mention(client: Client, team: Team, body: str) -> None:
    status, _ = await send(client, "POST", "/api/v1/comments", team.headers["coordinator"], {
        "entity_type": "project", "entity_id": str(team.project), "body": body})
    assert status == 201


async def _notes(pool: asyncpg.Pool, user: dict[str, Any], kind: str) -> int:
    async with system_transaction(pool) as conn:
        n: int = await conn.fetchval(
            "SELECT count(*) FROM notifications WHERE user_id = $1 AND type = $2",
            user["id"], kind)
    return n


async def test_preferences_get_put_and_bad_input(client: Client, world: World) -> None:
    team = await make_team(world, client)
    me = team.headers["designer"]
    status, prefs = await send(client, "GET", URL, me)
    assert status == 200 and prefs["projects"] == []
    defaults = {p["kind"]: (p["channel"], p["source"]) for p in prefs["defaults"]}
    assert defaults["action_required"] == ("email", "default")
    assert defaults["mention"] == ("live", "default")
    project = str(team.project)
    status, prefs = await send(client, "PUT", URL, me, {"preferences": [
        {"kind": "mention", "channel": "off"},
        {"project_id": project, "kind": "mention", "channel": "email"},
        {"project_id": project, "kind": "action_required", "channel": "digest"}]})
    assert status == 200, prefs
    assert {p["kind"]: p["channel"] for p in prefs["defaults"]}["mention"] == "off"
    [mine] = prefs["projects"]
    got = {p["kind"]: (p["channel"], p["source"]) for p in mine["preferences"]}
    assert mine["project_id"] == project
    assert got["mention"] == ("email", "project")
    assert got["action_required"] == ("digest", "project")
    assert got["task_assigned"] == ("live", "default")
    status, one = await send(client, "GET", f"{URL}?project_id={project}", me)
    assert status == 200 and one["projects"] == prefs["projects"]
    # Someone else's view is their own.
    status, theirs = await send(client, "GET", URL, team.headers["coordinator"])
    assert theirs["projects"] == [] and \
        {p["kind"]: p["channel"] for p in theirs["defaults"]}["mention"] == "live"

    before = prefs
    bad: list[tuple[Any, int, str]] = [
        ({"preferences": [{"kind": "action_required", "channel": "off"}]}, 422,
         "preferences[0].channel"),
        ({"preferences": [{"kind": "mention", "channel": "live"},
                          {"project_id": project, "kind": "action_required",
                           "channel": "off"}]}, 422, "preferences[1].channel"),
        ({"preferences": [{"kind": "gossip", "channel": "live"}]}, 422, "kind"),
        ({"preferences": [{"kind": "mention", "channel": "pigeon"}]}, 422, "channel"),
        ({"preferences": [{"kind": "mention", "channel": "live"},
                          {"kind": "mention", "channel": "email"}]}, 422,
         "preferences[1].kind"),
        ({"preferences": []}, 422, "preferences"),
        ({"preferences": [{"kind": "mention", "channel": "live"}] * 201}, 422, "preferences"),
        ({"preferences": [{"kind": "mention"}]}, 422, "channel"),
        ({"preferences": [{"kind": "mention", "channel": "live", "extra": 1}]}, 422, "extra"),
        ({"preferences": [{"kind": "mention", "channel": "live",
                           "project_id": "not-a-uuid"}]}, 422, "project_id"),
        ({"preferences": [{"kind": "mention", "channel": "live"},
                          {"project_id": str(uuid.uuid4()), "kind": "mention",
                           "channel": "live"}]}, 404, "preferences[1].project_id"),
    ]
    for body, code, field in bad:
        status, problem = await send(client, "PUT", URL, me, body)
        assert status == code, (body, problem)
        assert problem["type"] and problem["code"], problem
        assert any(field in e["field"] for e in problem.get("errors", [])), (field, problem)
    # A project the caller cannot read is "no such project", and nothing is written.
    outsider = team.headers["outsider"]
    status, problem = await send(client, "PUT", URL, outsider, {"preferences": [
        {"kind": "mention", "channel": "email"},
        {"project_id": project, "kind": "mention", "channel": "email"}]})
    assert status == 404, problem
    status, problem = await send(client, "GET", f"{URL}?project_id={project}", outsider)
    assert status == 404
    status, theirs = await send(client, "GET", URL, outsider)
    assert {p["kind"]: p["channel"] for p in theirs["defaults"]}["mention"] == "live"
    response = await client.put(URL, data=b"{not json", headers={
        **me, "Content-Type": "application/json"})
    assert response.status == 400
    status, after = await send(client, "GET", URL, me)
    assert after == before
    # A null channel removes a choice: the all-projects one applies again.
    status, prefs = await send(client, "PUT", URL, me, {"preferences": [
        {"project_id": project, "kind": "mention", "channel": None}]})
    got = {p["kind"]: (p["channel"], p["source"]) for p in prefs["projects"][0]["preferences"]}
    assert got["mention"] == ("off", "all_projects")
    status, _ = await send(client, "GET", URL, {})
    assert status == 401


async def test_preference_changes_stay_private_in_the_audit_log(client: Client,
                                                                world: World) -> None:
    team = await make_team(world, client)
    status, _ = await send(client, "PUT", URL, team.headers["designer"], {"preferences": [
        {"project_id": str(team.project), "kind": "mention", "channel": "email"}]})
    assert status == 200
    audit = "/api/v1/audit?table=notification_preferences"
    status, mine = await send(client, "GET", audit, team.headers["designer"])
    assert status == 200 and len(mine["data"]) == 1
    status, theirs = await send(client, "GET", audit, team.headers["coordinator"])
    assert status == 200 and theirs["data"] == []


async def test_channels_are_honoured(client: Client, world: World, pool: asyncpg.Pool,
                                     outbox: Outbox) -> None:
    team = await make_team(world, client)
    designer = team.users["designer"]
    app = client.app
    # off: no notification at all.
    await send(client, "PUT", URL, team.headers["designer"], {"preferences": [
        {"kind": "mention", "channel": "off"}]})
    await _mention(client, team, "first for @designer.member")
    assert await _notes(pool, designer, "mention") == 0
    status, page = await send(client, "GET", "/api/v1/notifications", team.headers["designer"])
    assert status == 200 and page["data"] == []
    # email: the notification, and an e-mail on the next pass (once).
    await send(client, "PUT", URL, team.headers["designer"], {"preferences": [
        {"project_id": str(team.project), "kind": "mention", "channel": "email"}]})
    await _mention(client, team, "second for @designer.member")
    assert await _notes(pool, designer, "mention") == 1
    report = await run_pass(app, MONDAY)
    assert report.emails == 1
    [mail] = outbox.sent
    assert mail.to == designer["email"] and "second for @designer.member" in mail.body
    await run_pass(app, MONDAY)
    assert len(outbox.sent) == 1
    # live (the default) for another user: a notification, never a mail.
    await _mention(client, team, "for @craftsman.member")
    assert await _notes(pool, team.users["craftsman"], "mention") == 1
    await run_pass(app, MONDAY)
    assert len(outbox.sent) == 1


async def test_the_daily_digest(client: Client, world: World, pool: asyncpg.Pool,
                                outbox: Outbox) -> None:
    team = await make_team(world, client)
    designer = team.users["designer"]
    app = client.app
    await send(client, "PUT", URL, team.headers["designer"], {"preferences": [
        {"kind": "mention", "channel": "digest"}]})
    await _mention(client, team, "<script>alert(1)</script> & @designer.member")
    await _mention(client, team, "plain note for @designer.member")
    assert await _notes(pool, designer, "mention") == 2
    # Before 07:00 in the organisation's zone: nothing yet.
    await run_pass(app, MONDAY.replace(hour=6))
    assert outbox.sent == []
    # Two workers at once: one digest.
    other = _worker(pool)
    await asyncio.gather(run_pass(app, MONDAY), run_pass(other, MONDAY))
    sent = [*outbox.sent, *other[MAILER].sent]
    assert len(sent) == 1
    mail = sent[0]
    assert mail.to == designer["email"] and "2 notifications" in mail.subject
    assert "<script>alert(1)</script>" in mail.body  # plain text, as written
    assert mail.html is not None and "<script>" not in mail.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in mail.html
    # Later the same day: a new one waits for tomorrow's digest.
    await _mention(client, team, "third for @designer.member")
    await run_pass(_worker(pool), MONDAY + dt.timedelta(hours=5))
    await run_pass(app, MONDAY + dt.timedelta(hours=5))
    assert len([*outbox.sent, *other[MAILER].sent]) == 1
    await run_pass(app, MONDAY + dt.timedelta(days=1))
    assert len(outbox.sent) + len(other[MAILER].sent) == 2
    last = outbox.sent[-1]
    assert "1 notification" in last.subject and "third for" in last.body


async def test_reminders_once_a_day_with_two_workers_and_a_restart(
        client: Client, world: World, pool: asyncpg.Pool, outbox: Outbox) -> None:
    team = await make_team(world, client)
    today = MONDAY.date()
    craftsman, designer = team.users["craftsman"], team.users["designer"]
    await _task(pool, team, "craftsman", today + dt.timedelta(days=1))  # due tomorrow
    await _task(pool, team, "craftsman", today - dt.timedelta(days=3), name="Late one")
    await _task(pool, team, "craftsman", today + dt.timedelta(days=5), name="Not yet")
    await _task(pool, team, "craftsman", today - dt.timedelta(days=1), name="Done",
                status="completed")
    await _review_task(pool, team, "user", str(designer["id"]), today)
    await _review_task(pool, team, "role", "coordinator", today - dt.timedelta(days=2))
    await _rfi(pool, team, [designer["id"], team.users["project_manager"]["id"]], today)
    expected = 2 + 1 + 1 + 2  # tasks, review task (user), review task (role), RFI

    worker_a, worker_b = client.app, _worker(pool)
    reports = await asyncio.gather(run_pass(worker_a, MONDAY), run_pass(worker_b, MONDAY))
    assert sum(r.reminders for r in reports) == expected
    assert len(await _reminders(pool)) == expected
    # The lock aside (a lost lock, a worker that did not see it): still nothing twice.
    counts = await asyncio.gather(remind(pool, MONDAY), remind(worker_a[POOL], MONDAY))
    assert counts == [0, 0]
    # A restart: a fresh worker later the same day sends nothing again.
    restarted = _worker(pool)
    assert (await run_pass(restarted, MONDAY + dt.timedelta(hours=8))).reminders == 0
    assert len(await _reminders(pool)) == expected
    titles = [r["title"] for r in await _reminders(pool, craftsman)]
    assert len(titles) == 2 and any("overdue by 3 days" in t for t in titles)
    # The next day, each again once, even raced by two workers without the lock.
    tuesday = MONDAY + dt.timedelta(days=1)
    counts = await asyncio.gather(remind(pool, tuesday), remind(worker_a[POOL], tuesday))
    assert sorted(counts) == [0, expected] or sum(counts) == expected
    assert len(await _reminders(pool)) == 2 * expected
    # Action required defaults to e-mail: the reminders were mailed, once each.
    await run_pass(restarted, tuesday)
    mailed = [*outbox.sent, *worker_b[MAILER].sent, *restarted[MAILER].sent]
    assert len(mailed) == 2 * expected
    assert len({(m.to, m.subject) for m in mailed}) == len(mailed)


async def test_reminders_honour_the_zone_weekends_and_the_45_days(
        client: Client, world: World, pool: asyncpg.Pool) -> None:
    team = await make_team(world, client)
    async with system_transaction(pool) as conn:  # UTC+14: already Tuesday at 10:00 UTC
        await conn.execute("UPDATE projects SET time_zone = 'Pacific/Kiritimati' "
                           "WHERE id = $1", team.project)
    local_today = dt.date(2026, 3, 17)
    await _task(pool, team, "craftsman", local_today + dt.timedelta(days=1), name="Wed")
    await _task(pool, team, "craftsman", local_today - dt.timedelta(days=45), name="45 days")
    await _task(pool, team, "craftsman", local_today - dt.timedelta(days=46), name="46 days")
    # 16:00 UTC Monday is 06:00 Tuesday there: before the send hour.
    assert await remind(pool, MONDAY.replace(hour=16)) == 0
    # 18:00 UTC Monday is 08:00 Tuesday there: Wednesday's task is due tomorrow (in UTC it
    # would be two days away).
    assert await remind(pool, MONDAY.replace(hour=18)) == 2
    names = sorted(r["title"] for r in await _reminders(pool))
    assert any("Wed" in n and "2026-03-18" in n for n in names)
    assert any("45 days" in n for n in names) and not any("46 days" in n for n in names)
    # Friday: a task due on Monday is due tomorrow (the next working day).
    async with system_transaction(pool) as conn:
        await conn.execute("UPDATE projects SET time_zone = NULL WHERE id = $1", team.project)
    friday = dt.datetime(2026, 3, 20, 9, 0, tzinfo=dt.UTC)
    await _task(pool, team, "designer", dt.date(2026, 3, 23), name="Monday's")
    await remind(pool, friday)
    assert [r["title"] for r in await _reminders(pool, team.users["designer"])] == \
        ["Action required: Task Monday's — due 2026-03-23"]


async def test_nothing_reaches_a_user_who_cannot_read_the_project(
        client: Client, world: World, pool: asyncpg.Pool, outbox: Outbox) -> None:
    team = await make_team(world, client)
    outsider = team.users["outsider"]  # same organisation, not on the team
    today = MONDAY.date()
    await _task(pool, team, "outsider", today)
    await _review_task(pool, team, "user", str(outsider["id"]), today)
    await _rfi(pool, team, [outsider["id"]], today)
    # A member who chose e-mail and the digest, then left the team.
    designer = team.users["designer"]
    await send(client, "PUT", URL, team.headers["designer"], {"preferences": [
        {"kind": "mention", "channel": "digest"},
        {"project_id": str(team.project), "kind": "task_assigned", "channel": "email"}]})
    await _mention(client, team, "secret plans for @designer.member")
    await _task(pool, team, "designer", today, name="Designer's")
    async with system_transaction(pool) as conn:
        await conn.execute("INSERT INTO notifications (org_id, user_id, project_id, type, "
                           "title, message) VALUES ($1, $2, $3, 'task_assigned', 'x', 'y')",
                           team.org, designer["id"], team.project)
        await conn.execute(
            "INSERT INTO notification_deliveries (notification_id, org_id, user_id, channel) "
            "SELECT id, org_id, user_id, 'email' FROM notifications WHERE title = 'x'")
        await conn.execute("DELETE FROM project_members WHERE project_id = $1 AND user_id = $2",
                           team.project, designer["id"])
    report = await run_pass(client.app, MONDAY)
    assert report.reminders == 0 and report.emails == 0 and report.digests == 0
    assert await _reminders(pool) == []
    assert outbox.sent == []
    status, _ = await send(client, "GET", f"{URL}?project_id={team.project}",
                           team.headers["designer"])
    assert status == 404
    # Nor do the project's older notifications show in their list any more.
    assert await _notes(pool, designer, "mention") == 1
    status, page = await send(client, "GET", "/api/v1/notifications", team.headers["designer"])
    assert status == 200 and page["data"] == []
    async with system_transaction(pool) as conn:
        note = await conn.fetchval("SELECT id FROM notifications WHERE user_id = $1 LIMIT 1",
                                   designer["id"])
    status, _ = await send(client, "POST", f"/api/v1/notifications/{note}/read",
                           team.headers["designer"])
    assert status == 404


async def test_the_job_runs_with_the_app_and_stops_with_it(
        aiohttp_client: Any, settings: Any, pool: asyncpg.Pool, world: World) -> None:
    from server.app import create_app
    from server.reminders import EVERY

    app = create_app(settings)
    app[MAILER] = Outbox()
    app[EVERY] = 0.05
    client = await aiohttp_client(app)
    team = await make_team(world, client)
    # A zone where it is the sending hour now, whatever the clock says.
    now = dt.datetime.now(dt.UTC)
    zone = next(z for z in ("UTC", "Asia/Tokyo", "America/New_York", "Asia/Kolkata",
                            "Pacific/Kiritimati", "America/Los_Angeles")
                if 8 <= now.astimezone(ZoneInfo(z)).hour <= 22)
    async with system_transaction(pool) as conn:
        await conn.execute("UPDATE organizations SET time_zone = $1 WHERE id = $2",
                           zone, team.org)
    today = now.astimezone(ZoneInfo(zone)).date()
    await _task(pool, team, "craftsman", today - dt.timedelta(days=1))
    for _ in range(200):
        await asyncio.sleep(0.05)
        if await _reminders(pool):
            break
    assert len(await _reminders(pool)) == 1
    async with asyncio.timeout(10):
        await client.close()


async def test_the_outbox_keeps_both_parts(tmp_path: Any) -> None:
    import email
    from email.message import EmailMessage
    from email.policy import default

    from server.mailer import Mail, OutboxMailer

    await OutboxMailer(tmp_path).send(Mail(to="a@example.test", subject="Digest",
                                           body="plain <b>", html="<p>&lt;b&gt;</p>"))
    [path] = list(tmp_path.iterdir())
    message = email.message_from_bytes(path.read_bytes(), policy=default)
    assert isinstance(message, EmailMessage) and message.is_multipart()
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    rich = message.get_body(("html",))
    assert plain is not None and "plain <b>" in plain.get_content()
    assert rich is not None and "<p>&lt;b&gt;</p>" in rich.get_content()


class Down(Outbox):
    """A mail server that refuses everything until it is back."""

    def __init__(self) -> None:
        super().__init__()
        self.up = False

    async def send(self, mail: Any) -> None:
        if not self.up:
            raise ConnectionRefusedError("SMTP down")
        await super().send(mail)


async def test_a_mail_that_fails_is_sent_on_the_next_pass(
        client: Client, world: World, pool: asyncpg.Pool) -> None:
    team = await make_team(world, client)
    await send(client, "PUT", URL, team.headers["designer"], {"preferences": [
        {"kind": "mention", "channel": "digest"}]})
    await send(client, "PUT", URL, team.headers["craftsman"], {"preferences": [
        {"kind": "mention", "channel": "email"}]})
    await _mention(client, team, "for @designer.member and @craftsman.member")
    worker = _worker(pool)
    worker[MAILER] = mailer = Down()
    report = await run_pass(worker, MONDAY)
    assert report.failed == 2 and report.emails == report.digests == 0
    mailer.up = True
    report = await run_pass(worker, MONDAY + dt.timedelta(minutes=1))
    assert (report.emails, report.digests, report.failed) == (1, 1, 0)
    assert sorted(m.to for m in mailer.sent) == sorted(
        [team.users["designer"]["email"], team.users["craftsman"]["email"]])
    await run_pass(worker, MONDAY + dt.timedelta(minutes=2))
    assert len(mailer.sent) == 2
