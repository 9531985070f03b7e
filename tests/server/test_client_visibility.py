"""Client users see no internal costs and no internal comments, on every REST channel:
single and list reads, cached reads filled by staff, the project summary, comments,
mentions, search, the audit trail, and (row-level security) attachments of comments."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from db.audience import INTERNAL_COST_FIELDS, audit_row_for_client, comment_visibility
from db.pool import system_transaction, transaction
from tests.conftest import World, actor_of
from tests.server.project_team import Team, make_team, send

COSTS = {"budget", "unit_price", "total_price", "unit_cost", "total_cost", "scope_value",
         "committed_material_cost", "budget_remaining"}
SECRET_MONEY = ("987654.00", "1234.56", "4321.99")


async def _priced_project(client: TestClient[Any, Any], team: Team) -> dict[str, str]:
    """Budget, a priced scope item and a costed, approved material spec, written by staff."""
    pm = team.headers["project_manager"]
    status, _ = await send(client, "PATCH", f"/api/v1/projects/{team.project}",
                           team.headers["admin"], {"budget": SECRET_MONEY[0]})
    assert status == 200
    status, group = await send(client, "POST", "/api/v1/scope-groups", pm,
                               {"project_id": str(team.project), "name": "Millwork"})
    assert status == 201, group
    status, item = await send(client, "POST", "/api/v1/scope-items", pm, {
        "project_id": str(team.project), "scope_group_id": group["id"], "name": "Desk",
        "quantity": "2", "unit": "pcs", "unit_price": SECRET_MONEY[1]})
    assert status == 201 and item["total_price"] == "2469.12", item
    status, spec = await send(client, "POST", "/api/v1/material-specs", pm, {
        "project_id": str(team.project), "description": "Walnut veneer", "quantity": "1",
        "unit_cost": SECRET_MONEY[2]})
    assert status == 201 and spec["unit_cost"] == SECRET_MONEY[2], spec
    for action in ("submit", "approve"):
        status, spec = await send(client, "POST",
                                  f"/api/v1/material-specs/{spec['id']}/transitions",
                                  pm, {"action": action})
        assert status == 200, spec
    return {"item": item["id"], "spec": spec["id"]}


def _no_costs(body: Any) -> None:
    """No cost key anywhere in the answer, and none of the secret amounts in its text."""
    def walk(value: Any) -> None:
        if isinstance(value, dict):
            assert not COSTS & set(value), sorted(COSTS & set(value))
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(body)
    text = str(body)
    assert not [m for m in SECRET_MONEY if m in text]


async def test_client_reads_no_costs_even_from_a_cache_warmed_by_staff(
        client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    ids = await _priced_project(client, team)
    staff, customer = team.headers["project_manager"], team.headers["client"]
    singles = [f"/api/v1/projects/{team.project}", f"/api/v1/scope-items/{ids['item']}",
               f"/api/v1/material-specs/{ids['spec']}",
               f"/api/v1/projects/{team.project}/summary"]
    staff_etags = {}
    for path in singles:  # staff first: every cached entry is filled with the costs
        for _ in range(2):
            response = await client.get(path, headers=staff)
            assert response.status == 200
            body = await response.json()
        staff_etags[path] = response.headers.get("ETag")
        assert COSTS & set(body), path
    summary = body
    assert summary["committed_material_cost"] == SECRET_MONEY[2]
    for path in singles:
        response = await client.get(path, headers=customer)
        assert response.status == 200, path
        body = await response.json()
        _no_costs(body)
        assert response.headers.get("ETag") == staff_etags[path]  # the version, nothing more
    assert body["specs_by_status"] == {"approved": 1} and body["tasks_total"] == 0
    lists = ["/api/v1/projects", f"/api/v1/scope-items?project_id={team.project}",
             f"/api/v1/material-specs?project_id={team.project}"]
    for path in lists:
        status, page = await send(client, "GET", path, customer)
        assert status == 200 and len(page["data"]) == 1, (path, page)
        _no_costs(page)
        status, page = await send(client, "GET", path, staff)
        assert COSTS & set(page["data"][0]), path
    # A search for an amount finds nothing for the client (costs are not searchable).
    for amount in SECRET_MONEY:
        status, found = await send(client, "GET", f"/api/v1/search?q={amount}", customer)
        assert status == 200 and found["data"] == []


async def test_a_cache_filled_by_a_client_still_serves_staff_the_costs(
        client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    ids = await _priced_project(client, team)
    path = f"/api/v1/scope-items/{ids['item']}"
    for _ in range(2):
        status, body = await send(client, "GET", path, team.headers["client"])
        assert status == 200
        _no_costs(body)
    status, body = await send(client, "GET", path, team.headers["designer"])
    assert body["unit_price"] == SECRET_MONEY[1] and body["total_price"] == "2469.12"


async def _comment(client: TestClient[Any, Any], team: Team, who: str, body: str,
                   **extra: Any) -> tuple[int, Any]:
    return await send(client, "POST", "/api/v1/comments", team.headers[who], {
        "entity_type": "project", "entity_id": str(team.project), "body": body, **extra})


async def test_internal_comments_are_for_staff_only(client: TestClient[Any, Any],
                                                    world: World) -> None:
    team = await make_team(world, client)
    status, internal = await _comment(client, team, "designer", "Supplier margin is thin")
    assert status == 201 and internal["visibility"] == "internal"
    status, shared = await _comment(client, team, "designer", "Handover moved to Friday",
                                    visibility="shared")
    assert status == 201 and shared["visibility"] == "shared"
    status, bad = await _comment(client, team, "designer", "x", visibility="public")
    assert status == 422 and bad["errors"][0]["field"] == "visibility"

    listing = f"/api/v1/comments?entity_type=project&entity_id={team.project}"
    status, page = await send(client, "GET", listing, team.headers["client"])
    assert status == 200 and [c["id"] for c in page["data"]] == [shared["id"]]
    status, page = await send(client, "GET", listing, team.headers["craftsman"])
    assert {c["id"] for c in page["data"]} == {internal["id"], shared["id"]}
    status, _ = await send(client, "GET", f"/api/v1/comments/{internal['id']}",
                           team.headers["client"])
    assert status == 404
    status, one = await send(client, "GET", f"/api/v1/comments/{shared['id']}",
                             team.headers["client"])
    assert status == 200 and one["body"] == "Handover moved to Friday"

    for word, staff_hits in (("margin", 1), ("handover", 1)):
        status, found = await send(client, "GET", f"/api/v1/search?q={word}&types=comment",
                                   team.headers["client"])
        assert status == 200
        assert [h["id"] for h in found["data"]] == ([shared["id"]] if word == "handover"
                                                    else [])
        status, found = await send(client, "GET", f"/api/v1/search?q={word}&types=comment",
                                   team.headers["designer"])
        assert len(found["data"]) == staff_hits

    # Sharing it later shows it to the client; a shared reply needs a shared parent.
    status, reply = await _comment(client, team, "coordinator", "Agreed",
                                   parent_id=internal["id"], visibility="shared")
    assert status == 422 and reply["errors"][0]["field"] == "visibility"
    status, now = await send(client, "PATCH", f"/api/v1/comments/{internal['id']}",
                             team.headers["designer"], {"visibility": "shared"})
    assert status == 200 and now["visibility"] == "shared" and now["body"].startswith("Supp")
    status, reply = await _comment(client, team, "coordinator", "Agreed",
                                   parent_id=internal["id"], visibility="shared")
    assert status == 201
    status, problem = await send(client, "PATCH", f"/api/v1/comments/{internal['id']}",
                                 team.headers["designer"], {"visibility": "internal"})
    assert status == 409 and problem["code"] == "shared_replies"


async def test_a_client_named_in_an_internal_comment_is_not_mentioned(
        client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    status, note = await _comment(client, team, "project_manager",
                                  "@client.member will not like @designer.member's price")
    assert status == 201
    assert note["mentions"] == [str(team.users["designer"]["id"])]
    assert {"handle": "@client.member", "reason": "internal_comment",
            "user_id": str(team.users["client"]["id"])} in note["mention_report"]["not_notified"]
    status, page = await send(client, "GET", "/api/v1/notifications", team.headers["client"])
    assert status == 200 and page["data"] == []
    status, page = await send(client, "GET", "/api/v1/notifications",
                              team.headers["designer"])
    assert len(page["data"]) == 1
    # Once shared, the client is mentioned (and notified) like anyone else.
    status, shared = await send(client, "PATCH", f"/api/v1/comments/{note['id']}",
                                team.headers["project_manager"], {"visibility": "shared"})
    assert status == 200 and str(team.users["client"]["id"]) in shared["mentions"]
    status, page = await send(client, "GET", "/api/v1/notifications", team.headers["client"])
    assert len(page["data"]) == 1 and page["data"][0]["data"]["comment_id"] == note["id"]


async def test_client_users_may_not_read_the_audit_trail(client: TestClient[Any, Any],
                                                         world: World) -> None:
    team = await make_team(world, client)
    ids = await _priced_project(client, team)
    for path in ("/api/v1/audit", f"/api/v1/audit/scope_items/{ids['item']}",
                 f"/api/v1/audit?project_id={team.project}"):
        status, problem = await send(client, "GET", path, team.headers["client"])
        assert status == 403 and problem["code"] == "insufficient_permissions", path


def test_audit_rows_for_a_client_hold_no_cost_and_no_internal_comment() -> None:
    spec = {"table_name": "material_specs", "old_values": {"unit_cost": "1", "notes": "a"},
            "new_values": {"unit_cost": "2", "notes": "b"},
            "changed_fields": ["notes", "unit_cost"]}
    shown = audit_row_for_client("material_specs", spec)
    assert shown is not None and shown["changed_fields"] == ["notes"]
    assert shown["old_values"] == {"notes": "a"} and shown["new_values"] == {"notes": "b"}
    only_cost = {**spec, "changed_fields": ["unit_cost"]}
    assert audit_row_for_client("material_specs", only_cost) is None
    internal = {"old_values": None, "new_values": {"visibility": "internal", "body": "x"}}
    assert audit_row_for_client("comments", internal) is None
    made_internal = {"old_values": {"visibility": "shared"},
                     "new_values": {"visibility": "internal"}}
    assert audit_row_for_client("comments", made_internal) is None
    shared = {"old_values": None, "new_values": {"visibility": "shared", "body": "x"}}
    assert audit_row_for_client("comments", shared) == shared
    assert audit_row_for_client("mentions", {"new_values": {"comment_id": "c"}}) is None
    assert set(INTERNAL_COST_FIELDS["material_specs"]) == {"unit_cost", "total_cost"}


@pytest.mark.parametrize(("role", "asked", "given"), [
    ("designer", None, "internal"), ("designer", "shared", "shared"),
    ("admin", "internal", "internal"), ("client", None, "shared"),
    ("client", "internal", "shared"),
])
def test_who_writes_which_visibility(role: str, asked: str | None, given: str) -> None:
    assert comment_visibility(role, asked) == given


async def test_row_security_hides_what_hangs_off_an_internal_comment(
        pool: asyncpg.Pool, world: World) -> None:
    org = await world.org()
    staff = await world.user(org, "designer")
    customer = await world.user(org, "client")
    project = await world.project(org, members=[staff], client_id=customer["client_id"])
    comments: dict[str, uuid.UUID] = {}
    async with system_transaction(pool) as conn:
        for visibility in ("internal", "shared"):
            cid = await conn.fetchval(
                "INSERT INTO comments (org_id, project_id, entity_type, entity_id, user_id,"
                " body, visibility) VALUES ($1, $2, 'project', $2, $3, $4, $4) RETURNING id",
                org, project, staff["id"], visibility)
            comments[visibility] = cid
            await conn.execute(
                "INSERT INTO attachments (org_id, project_id, entity_type, entity_id, "
                "file_name, storage_key) VALUES ($1, $2, 'comment', $3, $4, $4)",
                org, project, cid, f"{visibility}.pdf")
            await conn.execute("INSERT INTO mentions (org_id, project_id, comment_id, user_id)"
                               " VALUES ($1, $2, $3, $4)", org, project, cid, staff["id"])
        await conn.execute(
            "INSERT INTO attachments (org_id, project_id, entity_type, entity_id, file_name, "
            "storage_key) VALUES ($1, $2, 'project', $2, 'plan.pdf', 'plan.pdf')", org, project)

    async def seen(user: dict[str, Any]) -> tuple[set[str], set[str], set[uuid.UUID]]:
        async with transaction(pool, actor_of(user), readonly=True) as conn:
            bodies = await conn.fetch("SELECT body FROM comments")
            files = await conn.fetch("SELECT file_name FROM attachments")
            mentioned = await conn.fetch("SELECT comment_id FROM mentions")
        return ({r["body"] for r in bodies}, {r["file_name"] for r in files},
                {r["comment_id"] for r in mentioned})

    assert await seen(staff) == ({"internal", "shared"},
                                 {"internal.pdf", "shared.pdf", "plan.pdf"}, set(comments.values()))
    assert await seen(customer) == ({"shared"}, {"shared.pdf", "plan.pdf"}, {comments["shared"]})
    # Nor can a client user write an internal comment, whatever the application does.
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with transaction(pool, actor_of(customer)) as conn:
            await conn.execute(
                "INSERT INTO comments (org_id, project_id, entity_type, entity_id, user_id, "
                "body, visibility) VALUES ($1, $2, 'project', $2, $3, 'mine', 'internal')",
                org, project, customer["id"])
