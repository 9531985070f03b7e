"""Client users' sockets get change events without internal costs and nothing of internal
comments, live and through resync, while staff in the same project get everything."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from db.pool import transaction
from realtime.feed.events import bare_event, event_from_audit
from server.app import create_app
from server.config import Settings
from tests.conftest import World, actor_of
from tests.realtime.conftest import Sock, add_task
from tests.realtime.test_events import row

COSTS = {"unit_cost", "total_cost"}


async def _write(pool: asyncpg.Pool, user: dict[str, Any], sql: str, *args: Any) -> Any:
    async with transaction(pool, actor_of(user)) as conn:
        return await conn.fetchval(sql, *args)


def _by_record(events: list[tuple[str, Any]], record: Any) -> list[tuple[str, Any]]:
    return [(name, data) for name, data in events
            if isinstance(data, dict) and data.get("record_id") == str(record)]


async def test_client_sockets_get_no_costs_and_no_internal_comments(
        aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
        memory_settings: Settings, pool: asyncpg.Pool, world: World,
        socks: Callable[[], Sock]) -> None:
    app = create_app(memory_settings)
    http = await aiohttp_client(app)
    url = str(http.make_url("")).rstrip("/")
    org = await world.org()
    admin = await world.user(org, "admin")
    designer = await world.user(org, "designer")
    customer = await world.user(org, "client")
    project = await world.project(org, members=[designer], client_id=customer["client_id"])
    staff_sock, client_sock = socks(), socks()
    cursors = {}
    for sock, user in ((staff_sock, designer), (client_sock, customer)):
        await sock.connect(url, await world.token(app, user))
        ack = await sock.call("subscribe", {"project_id": str(project)})
        assert ack["ok"], ack
        cursors[sock] = ack["cursor"]
    before = await pool.fetchval("SELECT coalesce(max(id), 0) FROM audit_logs")

    spec = await _write(pool, admin, "INSERT INTO material_specs (org_id, project_id, "
                        "description, quantity, unit_cost, total_cost) VALUES ($1, $2, "
                        "'Walnut', 2, 10.50, 21.00) RETURNING id", org, project)
    await _write(pool, admin, "UPDATE material_specs SET unit_cost = 11, total_cost = 22 "
                 "WHERE id = $1", spec)
    await _write(pool, admin, "UPDATE material_specs SET description = 'Oak', unit_cost = 12 "
                 "WHERE id = $1", spec)
    comment_sql = ("INSERT INTO comments (org_id, project_id, entity_type, entity_id, user_id,"
                   " body, visibility) VALUES ($1, $2, 'project', $2, $3, $4, $5) RETURNING id")
    by_admin = (org, project, admin["id"])
    internal = await _write(pool, admin, comment_sql, *by_admin, "margin", "internal")
    shared = await _write(pool, admin, comment_sql, *by_admin, "friday", "shared")
    await _write(pool, admin, "UPDATE comments SET visibility = 'internal' WHERE id = $1", shared)
    await _write(pool, admin, "UPDATE comments SET visibility = 'shared' WHERE id = $1", internal)
    await _write(pool, admin, "INSERT INTO mentions (org_id, project_id, comment_id, user_id) "
                 "VALUES ($1, $2, $3, $4)", org, project, internal, designer["id"])
    last = await add_task(pool, admin, project, "the end")  # both get this one
    for sock in (staff_sock, client_sock):
        await sock.wait_for(lambda s=sock: bool(s.named("task.created")))

    # Staff: everything, with the costs.
    staff_spec = _by_record(staff_sock.events, spec)
    assert [n for n, _ in staff_spec] == ["material_spec.created"] + ["material_spec.updated"] * 2
    assert staff_spec[0][1]["data"]["unit_cost"] == "10.50"
    assert staff_spec[1][1]["changed_fields"] == ["total_cost", "unit_cost"]
    assert [n for n, _ in _by_record(staff_sock.events, internal)] == [
        "comment.created", "comment.updated"]
    assert [n for n, _ in _by_record(staff_sock.events, shared)] == [
        "comment.created", "comment.updated"]
    assert staff_sock.named("mention.created")

    # Client: no cost anywhere, no event where only costs changed, comments as they are
    # visible to them (created when shared, deleted when made internal), no mentions.
    client_spec = _by_record(client_sock.events, spec)
    assert [n for n, _ in client_spec] == ["material_spec.created", "material_spec.updated"]
    for _, data in client_spec:
        assert not COSTS & set(data["data"])
    assert client_spec[1][1]["changed_fields"] == ["description"]
    assert client_spec[1][1]["data"]["description"] == "Oak"
    assert [(n, d["action"]) for n, d in _by_record(client_sock.events, shared)] == [
        ("comment.created", "created"), ("comment.deleted", "deleted")]
    assert _by_record(client_sock.events, shared)[1][1]["data"] is None
    made_shared = _by_record(client_sock.events, internal)
    assert [(n, d["action"]) for n, d in made_shared] == [("comment.created", "created")]
    assert made_shared[0][1]["data"]["body"] == "margin"
    assert client_sock.named("mention.created") == []
    assert [d for _, d in client_sock.events if "margin" in str(d)] == [made_shared[0][1]]

    # Resync from the subscribe cursor replays exactly what each socket was sent live.
    for sock in (staff_sock, client_sock):
        ack = await sock.call("resync", {"project_id": str(project), "cursor": cursors[sock]})
        assert ack["ok"] and not ack.get("gap"), ack
        # (resync may repeat older events: clients dedupe by id)
        live = [d for n, d in sock.events if "." in n and d["id"] > before]
        replayed = [e for e in ack["events"] if e["id"] > before]
        assert [(e["resource"], e["action"], e["record_id"]) for e in replayed] == [
            (e["resource"], e["action"], e["record_id"]) for e in live]
        assert [{**e, "cursor": None} for e in replayed] == [
            {**e, "cursor": None} for e in live]
    replayed_text = str(ack["events"])  # the client's, older events included
    assert not [c for c in ("unit_cost", "total_cost", "budget") if c in replayed_text]
    assert ack["events"][-1]["record_id"] == str(last)


def test_a_cost_change_goes_to_staff_whole_and_to_clients_stripped() -> None:
    audit = row("material_specs", changed_fields=["quantity", "unit_cost"],
                new_values={"id": "r", "quantity": "2", "unit_cost": "9.00",
                            "total_cost": "18.00", "version": 3})
    event = event_from_audit(audit, (1, 1))
    assert event is not None
    staff, client = event.deliveries()
    project = audit["project_id"]
    assert staff[2] == (f"project:{project}:staff",) and staff[1]["data"]["unit_cost"] == "9.00"
    assert client[0] == "material_spec.updated"
    assert client[2] == (f"project:{project}:client",)
    assert client[1]["changed_fields"] == ["quantity"] and "unit_cost" not in client[1]["data"]
    assert event.payload_for(staff=False) == client[1]
    only_costs = event_from_audit({**audit, "changed_fields": ["unit_cost"]}, (1, 1))
    assert only_costs is not None and len(only_costs.deliveries()) == 1
    assert only_costs.payload_for(staff=False) is None


def test_events_without_internal_parts_go_once_to_the_whole_project() -> None:
    event = event_from_audit(row("tasks"), (1, 1))
    assert event is not None
    assert event.deliveries() == [(event.name, event.payload, event.rooms)]
    for visibility, count in (("shared", 1), ("internal", 1)):
        values = {"id": "c", "visibility": visibility, "body": "b", "version": 1}
        created = event_from_audit(row("comments", "insert", new_values=values,
                                       old_values=None, changed_fields=None), (1, 1))
        assert created is not None and len(created.deliveries()) == count
        assert (created.payload_for(staff=False) is None) == (visibility == "internal")
    member = event_from_audit(row("project_members", "insert", changed_fields=None,
                                  new_values={"user_id": str(uuid.uuid4()), "version": 1}),
                              (1, 1))
    assert member is not None and len(member.deliveries()) == 1


def test_events_without_values_never_reach_clients_for_comments_or_costs() -> None:
    """A row whose values cannot be sent becomes a bare event: for a comment it cannot be
    told whether it is internal, so client users get nothing of it."""
    comment = bare_event(row("comments", "insert", changed_fields=None), (1, 1))
    assert comment is not None and comment.payload_for(staff=False) is None
    assert comment.payload_for(staff=True) is comment.payload
    cost = bare_event(row("scope_items", changed_fields=["unit_price"]), (1, 1))
    assert cost is not None and cost.payload_for(staff=False) is None
    named = bare_event(row("scope_items", changed_fields=["name", "total_price"]), (1, 1))
    assert named is not None
    assert named.payload_for(staff=False)["changed_fields"] == ["name"]  # type: ignore[index]


async def test_client_users_are_not_told_what_staff_type(
        aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
        memory_settings: Settings, pool: asyncpg.Pool, world: World,
        socks: Callable[[], Sock]) -> None:
    """Staff may be typing an internal comment: their typing goes to staff only, while a
    client user's typing reaches everyone in the project."""
    app = create_app(memory_settings)
    http = await aiohttp_client(app)
    url = str(http.make_url("")).rstrip("/")
    org = await world.org()
    designer, coordinator = await world.user(org, "designer"), await world.user(org, "coordinator")
    customer = await world.user(org, "client")
    project = await world.project(org, members=[designer, coordinator],
                                  client_id=customer["client_id"])
    typist, colleague, client_sock = socks(), socks(), socks()
    for sock, user in ((typist, designer), (colleague, coordinator), (client_sock, customer)):
        await sock.connect(url, await world.token(app, user))
        assert (await sock.call("subscribe", {"project_id": str(project)}))["ok"]
    typing = {"project_id": str(project), "resource": "comment", "record_id": None,
              "field": "body", "active": True}
    assert (await typist.call("typing", typing))["ok"]
    await colleague.wait_for(lambda: bool(colleague.named("typing")))
    # A later change the client socket must receive: once it has arrived, the staff typing
    # sent before it would have too, had it been sent there.
    await add_task(pool, coordinator, project, "after the typing")
    await client_sock.wait_for(lambda: bool(client_sock.named("task.created")))
    assert client_sock.named("typing") == []
    # What a client user types reaches the staff.
    assert (await client_sock.call("typing", typing))["ok"]
    await typist.wait_for(lambda: bool(typist.named("typing")))
    await colleague.wait_for(lambda: len(colleague.named("typing")) == 2)
