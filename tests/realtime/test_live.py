"""The real-time spine end to end: subprocess workers, Socket.IO clients, SQL writers."""

from __future__ import annotations

import asyncio
import functools
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
import asyncpg
import pytest
import socketio
from aiohttp import web

from db.cursor_codec import decode_feed_cursor
from db.pool import create_pool, transaction
from tests.conftest import World, actor_of
from tests.realtime.conftest import Sock, Workers, add_task, audit_ids, token_for

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def team(world: World, project_members: int = 1) -> tuple[dict[str, Any], ...]:
    org = await world.org()
    admin = await world.user(org, "admin", first_name="Ayşe", last_name="Admin")
    people = [await world.user(org, "designer", first_name=f"Dev{i}", last_name="Member")
              for i in range(project_members)]
    outsider = await world.user(org, "designer", first_name="Out", last_name="Sider")
    project = await world.project(org, members=people)
    return admin, *people, outsider, {"id": project}


async def subscribed(sock: Sock, url: str, token: str, project: uuid.UUID) -> dict[str, Any]:
    await sock.connect(url, token)
    ack = await sock.call("subscribe", {"project_id": str(project)})
    assert ack["ok"], ack
    return dict(ack)


async def org_wide_change(pool: asyncpg.Pool, admin: dict[str, Any], *socks: Sock) -> None:
    """Write a change every staff socket of the org receives (`client.created`), and wait
    until each of `socks` has it. Events leave the leader in commit order on one channel:
    an event of an earlier commit that a socket was going to get has arrived by then."""
    async with transaction(pool, actor_of(admin)) as conn:
        client_id = await conn.fetchval(
            "INSERT INTO clients (org_id, name) VALUES ($1, 'Later') RETURNING id",
            admin["org_id"])
    def has_it(sock: Sock) -> bool:
        return str(client_id) in {e["record_id"] for e in sock.named("client.created")}

    for sock in socks:
        await sock.wait_for(functools.partial(has_it, sock))


async def test_refused_without_token_or_with_a_bad_one(live: Workers,
                                                       socks: Callable[[], Sock]) -> None:
    url = live.all[0].url
    for token in (None, "not-a-token", "eyJhbGciOiJIUzI1NiJ9.e30.x"):
        sock = socks()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await sock.connect(url, token)
        assert sock.connect_errors[-1]["data"] == {"code": "unauthorized"}


async def test_served_workers_froze_their_start_up_heap(live: Workers) -> None:
    """`serve` moves what it built at start out of the collector's reach (server/collector)."""
    async with aiohttp.ClientSession() as http:
        for worker in live.all:
            async with http.get(f"{worker.url}/metrics") as response:
                lines = (await response.text()).splitlines()
            frozen = next(line for line in lines if line.startswith("fpm_gc_frozen_objects "))
            assert float(frozen.split()[1]) > 10_000


async def test_write_reaches_subscriber_on_the_other_worker_only(
        live: Workers, socks: Callable[[], Sock], world: World, pool: asyncpg.Pool,
        token_app: web.Application) -> None:
    admin, member, outsider, p = await team(world)
    project = p["id"]
    leader, follower = await live.roles()
    watcher, idle, stranger = socks(), socks(), socks()
    ack = await subscribed(watcher, follower.url, await token_for(token_app, member), project)
    decode_feed_cursor(ack["cursor"])
    await idle.connect(leader.url, await token_for(token_app, member))
    await stranger.connect(leader.url, await token_for(token_app, outsider))
    refused = await stranger.call("subscribe", {"project_id": str(project)})
    assert refused == {"ok": False, "error": {"code": "forbidden"}}
    bad = await stranger.call("subscribe", {"project_id": "nope"})
    assert bad["error"]["code"] == "invalid"
    missing = await stranger.call("subscribe", {"project_id": str(uuid.uuid4())})
    assert missing["error"]["code"] == "not_found"

    task_id = await add_task(pool, admin, project, "Install reception millwork",
                             request_id="req-42")
    await watcher.wait_for(lambda: bool(watcher.named("task.created")))
    event = watcher.named("task.created")[0]
    assert event["record_id"] == str(task_id) and event["project_id"] == str(project)
    assert event["resource"] == "task" and event["action"] == "created"
    assert event["actor_id"] == str(admin["id"]) and event["request_id"] == "req-42"
    assert event["version"] == 1 and event["data"]["name"] == "Install reception millwork"
    assert "search_vector" not in event["data"] and event["changed_fields"] is None
    assert event["id"] == (await audit_ids(pool, project))[0]
    decode_feed_cursor(event["cursor"])
    await org_wide_change(pool, admin, idle, stranger)
    for sock in (idle, stranger):  # org-wide events (user.created) may reach them
        assert [e for e in sock.changes() if e["project_id"] == str(project)] == []


async def test_out_of_order_commits_arrive_exactly_once(
        live: Workers, socks: Callable[[], Sock], world: World, pool: asyncpg.Pool,
        token_app: web.Application, database_url: str) -> None:
    admin, member, _, p = await team(world)
    project = p["id"]
    _, follower = await live.roles()
    watcher = socks()
    await subscribed(watcher, follower.url, await token_for(token_app, member), project)
    writers = await create_pool(database_url, min_size=20, max_size=20)
    rng = random.Random(10)

    async def write(i: int) -> None:
        async with writers.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            await conn.execute("SELECT set_config('role', 'formula_pm_app', true), "
                               "set_config('app.user_id', $1, true), "
                               "set_config('app.org_id', $2, true)",
                               str(admin["id"]), str(admin["org_id"]))
            await conn.execute("INSERT INTO tasks (org_id, project_id, name) "
                               "VALUES ($1, $2, $3)", admin["org_id"], project,
                               f"{'rollback' if i % 20 == 7 else 'task'} {i}")
            await asyncio.sleep(rng.random() * (0.6 if i == 0 else 0.03))
            await (tx.rollback() if i % 20 == 7 else tx.commit())

    try:
        await asyncio.gather(*(write(i) for i in range(200)))
    finally:
        await writers.close()
    expected = await audit_ids(pool, project)
    assert len(expected) == 190
    await watcher.wait_for(lambda: len(watcher.named("task.created")) >= 190)
    last = await add_task(pool, admin, project, "last")  # a repeat would come before it
    await watcher.wait_for(
        lambda: any(e["record_id"] == str(last) for e in watcher.named("task.created")))
    received = [e["id"] for e in watcher.named("task.created") if e["record_id"] != str(last)]
    assert sorted(received) == expected  # each exactly once, none rolled back
    assert not any("rollback" in e["data"]["name"] for e in watcher.named("task.created"))


async def test_killed_listener_connection_loses_nothing(
        live: Workers, socks: Callable[[], Sock], world: World, pool: asyncpg.Pool,
        token_app: web.Application) -> None:
    admin, member, _, p = await team(world)
    project = p["id"]
    _, follower = await live.roles()
    watcher = socks()
    await subscribed(watcher, follower.url, await token_for(token_app, member), project)
    await add_task(pool, admin, project, "before")
    await watcher.wait_for(lambda: len(watcher.named("task.created")) == 1)
    async with pool.acquire() as conn:
        killed = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'formula-pm-leader' AND datname = current_database()")
    assert killed >= 1
    for i in range(5):
        await add_task(pool, admin, project, f"during {i}")
    await asyncio.sleep(1.2)
    for i in range(5):
        await add_task(pool, admin, project, f"after {i}")
    expected = await audit_ids(pool, project)
    await watcher.wait_for(
        lambda: {e["id"] for e in watcher.named("task.created")} >= set(expected))


async def test_resync_returns_exactly_what_was_missed(
        live: Workers, socks: Callable[[], Sock], world: World, pool: asyncpg.Pool,
        token_app: web.Application) -> None:
    admin, member, _, p = await team(world)
    project = p["id"]
    token = await token_for(token_app, member)
    first = socks()
    await subscribed(first, live.all[0].url, token, project)
    for i in range(3):
        await add_task(pool, admin, project, f"seen {i}")
    await first.wait_for(lambda: len(first.named("task.created")) == 3)
    held = {e["id"] for e in first.changes()}
    cursor = first.named("task.created")[-1]["cursor"]
    await first.close()
    # Everything the project had before the missed writes, of every table: a cursor held back
    # by the cluster-wide snapshot horizon (open transactions anywhere on the server) may
    # replay older rows too, which a client drops by id.
    before = set(await pool.fetchval(
        "SELECT array_agg(id) FROM audit_logs WHERE project_id = $1", project))
    for i in range(50):
        await add_task(pool, admin, project, f"missed {i}")
    async with transaction(pool, actor_of(admin)) as conn:  # never replayed to others
        await conn.execute(
            "INSERT INTO notifications (org_id, user_id, project_id, type, title, message) "
            "VALUES ($1, $2, $3, 'mention', 'hi', 'hi')", admin["org_id"], member["id"],
            project)
    missed = [i for i in await audit_ids(pool, project) if i not in before]

    second = socks()
    await subscribed(second, live.all[1].url, token, project)
    reply = await second.call("resync", {"project_id": str(project), "cursor": cursor})
    assert reply["ok"] and "gap" not in reply
    # Exactly the missed ones, in order; anything else is a repeat of what came before.
    new = [e for e in reply["events"] if e["id"] not in held | before]
    assert [e["id"] for e in new] == missed
    assert all(e["project_id"] == str(project) and e["resource"] != "notification"
               for e in reply["events"])
    again = await second.call("resync", {"project_id": str(project),
                                         "cursor": reply["cursor"]})
    # Only what may still change below the horizon comes again (clients dedupe by id).
    assert again["ok"] and {e["id"] for e in again["events"]} <= before | set(missed)
    bad = await second.call("resync", {"project_id": str(project), "cursor": "garbage"})
    assert bad["error"]["code"] == "invalid"


async def test_resync_reports_a_gap_beyond_its_bound(
        live: Workers, socks: Callable[[], Sock], world: World, pool: asyncpg.Pool,
        token_app: web.Application) -> None:
    admin, member, _, p = await team(world)
    project = p["id"]
    sock = socks()
    ack = await subscribed(sock, live.all[0].url, await token_for(token_app, member), project)
    async with transaction(pool, actor_of(admin)) as conn:
        await conn.execute("INSERT INTO tasks (org_id, project_id, name) SELECT $1, $2, "
                           "'bulk ' || n FROM generate_series(1, 1001) n",
                           admin["org_id"], project)
    reply = await sock.call("resync", {"project_id": str(project), "cursor": ack["cursor"]})
    assert reply["ok"] and reply["gap"] is True and "cursor" in reply


async def test_membership_removal_evicts_at_once(
        live: Workers, socks: Callable[[], Sock], world: World, pool: asyncpg.Pool,
        token_app: web.Application) -> None:
    admin, member, _, p = await team(world)
    project = p["id"]
    _, follower = await live.roles()
    sock = socks()
    await subscribed(sock, follower.url, await token_for(token_app, member), project)
    async with transaction(pool, actor_of(admin)) as conn:
        await conn.execute("DELETE FROM project_members WHERE project_id = $1 AND user_id = $2",
                           project, member["id"])
    await sock.wait_for(lambda: bool(sock.named("evicted")))
    assert sock.named("evicted")[0] == {"project_id": str(project),
                                        "reason": "access_revoked"}
    assert sock.named("project_member.deleted")[0]["data"] is None
    await add_task(pool, admin, project, "after eviction")
    await org_wide_change(pool, admin, sock)
    assert sock.named("task.created") == []
    typing = await sock.call("typing", {"project_id": str(project), "active": True})
    assert typing["error"]["code"] == "forbidden"


async def test_presence_typing_and_own_writes_skipped(
        live: Workers, socks: Callable[[], Sock], world: World, pool: asyncpg.Pool,
        token_app: web.Application) -> None:
    _, one, two, _, p = await team(world, project_members=2)
    project = p["id"]
    a, b = socks(), socks()
    await subscribed(a, live.all[0].url, await token_for(token_app, one), project)
    await subscribed(b, live.all[1].url, await token_for(token_app, two), project)

    def both(sock: Sock) -> bool:
        return any(len(x["users"]) == 2 for x in sock.named("presence"))

    await a.wait_for(lambda: both(a))
    await b.wait_for(lambda: both(b))
    names = {u["first_name"] for u in b.named("presence")[-1]["users"]}
    assert names == {"Dev0", "Dev1"}
    assert set(b.named("presence")[-1]["users"][0]) == {"id", "first_name", "last_name"}

    ack = await a.call("typing", {"project_id": str(project), "resource": "task",
                                  "record_id": "x", "field": "name", "active": True})
    assert ack == {"ok": True}
    await b.wait_for(lambda: bool(b.named("typing")))
    assert b.named("typing")[0]["user"]["id"] == str(one["id"]) and a.named("typing") == []

    await add_task(pool, one, project, "mine", origin_sid=a.sid)  # as if X-Socket-ID: a
    await b.wait_for(lambda: bool(b.named("task.created")))
    await add_task(pool, two, project, "theirs", origin_sid=b.sid)
    await a.wait_for(lambda: bool(a.named("task.created")))
    assert [e["data"]["name"] for e in a.named("task.created")] == ["theirs"]
    assert a.named("typing") == []  # its own typing, sent long before "theirs"

    await b.close()
    await a.wait_for(lambda: [u["id"] for u in a.named("presence")[-1]["users"]]
                     == [str(one["id"])])


async def test_revoked_session_disconnects_its_socket(
        live: Workers, socks: Callable[[], Sock], world: World, client: Any) -> None:
    """The revocation happens on another worker (the in-process app) than the socket."""
    from server.auth.sessions import revoke_session, start_session

    org = await world.org()
    user = await world.user(org, "designer")
    app = client.server.app
    pair = await start_session(app, user_id=user["id"], org_id=org, role="designer")
    other = await start_session(app, user_id=user["id"], org_id=org, role="designer")
    third = await start_session(app, user_id=user["id"], org_id=org, role="designer")
    doomed, kept, later = socks(), socks(), socks()
    await doomed.connect(live.all[0].url, pair.access_token)
    await kept.connect(live.all[1].url, other.access_token)
    await later.connect(live.all[1].url, third.access_token)
    await revoke_session(app, pair.session_id, user["id"], "logout", actor_of(user))
    await asyncio.wait_for(doomed.disconnected.wait(), 5)
    # A later revocation on kept's own worker: once it has acted, the first one has too.
    await revoke_session(app, third.session_id, user["id"], "logout", actor_of(user))
    await asyncio.wait_for(later.disconnected.wait(), 5)
    assert kept.client.connected
    again = socks()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await again.connect(live.all[1].url, pair.access_token)


async def test_leader_death_hands_over_and_loses_nothing(
        live: Workers, socks: Callable[[], Sock], world: World, pool: asyncpg.Pool,
        token_app: web.Application) -> None:
    admin, member, _, p = await team(world)
    project = p["id"]
    leader, follower = await live.roles()
    watcher = socks()
    await subscribed(watcher, follower.url, await token_for(token_app, member), project)
    await add_task(pool, admin, project, "before")
    await watcher.wait_for(lambda: len(watcher.named("task.created")) == 1)
    leader.kill()
    died = time.monotonic()
    for i in range(10):
        await add_task(pool, admin, project, f"orphan {i}")
    expected = set(await audit_ids(pool, project))
    await watcher.wait_for(
        lambda: {e["id"] for e in watcher.named("task.created")} >= expected, limit=10)
    handover = time.monotonic() - died
    status = await follower.realtime()
    assert status["role"] == "leader"
    assert handover < 5, handover
    async with pool.acquire() as conn:
        changes = await conn.fetchval(
            "SELECT count(*) FROM audit_logs WHERE action = 'leader_changed'")
    assert changes >= 1
