"""Sign-in and access events are complete, each written exactly once: successes and
failures with address and user agent, logout, session revocation, role changes, password
and invitation events, and exports of the audit trail."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from server.keys import BACKGROUND
from tests.conftest import PASSWORD, Outbox, World
from tests.server.api import caller

Client = TestClient[Any, Any]
AGENT = {"User-Agent": "access-test/1.0"}


async def rows(pool: asyncpg.Pool, action: str) -> list[asyncpg.Record]:
    return list(await pool.fetch(
        "SELECT id, org_id, user_id, record_id, table_name, host(ip) AS ip, user_agent, "
        "details, changed_fields FROM audit_logs WHERE action = $1 ORDER BY id", action))


async def login(client: Client, email: str, password: str = PASSWORD) -> Any:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password},
                             headers=AGENT)


async def test_sign_in_success_failure_and_logout_once_each_with_address_and_agent(
        client: Client, world: World, pool: asyncpg.Pool) -> None:
    org = await world.org()
    user = await world.user(org, "designer")
    assert (await login(client, user["email"], "wrong password")).status == 401
    ok = await login(client, user["email"])
    assert ok.status == 200
    tokens = await ok.json()
    out = await client.post("/api/v1/auth/logout", headers={
        **AGENT, "Authorization": f"Bearer {tokens['access_token']}"})
    assert out.status == 204
    for action in ("login_failed", "login", "logout"):
        found = await rows(pool, action)
        assert len(found) == 1, action
        assert found[0]["org_id"] == org and found[0]["user_id"] == user["id"]
        assert found[0]["ip"] and found[0]["user_agent"] == "access-test/1.0"


async def test_deactivation_and_role_change_revoke_sessions_once(
        client: Client, world: World, pool: asyncpg.Pool) -> None:
    org = await world.org()
    admin = await caller(client, world, org, "admin")
    user = await world.user(org, "designer")
    for _ in range(2):
        assert (await login(client, user["email"])).status == 200
    status, _ = await admin.patch(f"/api/v1/users/{user['id']}", {"role": "coordinator"},
                                  headers={"If-Match": '"1"'})
    assert status == 200
    changes = [r for r in await rows(pool, "update")
               if r["table_name"] == "users" and r["record_id"] == user["id"]]
    assert len(changes) == 1 and changes[0]["changed_fields"] == ["role"]
    assert str(changes[0]["user_id"]) == admin.id
    revoked = await rows(pool, "sessions_revoked")
    assert len(revoked) == 1 and revoked[0]["record_id"] == user["id"]
    # By the admin's request, or by the change feed when it noticed the change first.
    assert str(revoked[0]["user_id"]) in (admin.id, "None") and revoked[0]["org_id"] == org
    assert (await login(client, user["email"])).status == 200
    status, _ = await admin.delete(f"/api/v1/users/{user['id']}")
    assert status == 204
    revoked = await rows(pool, "sessions_revoked")
    # (ended by the identity change the deactivation is, before the route's own call)
    assert len(revoked) == 2
    assert revoked[1]["details"]["reason"] in ("deactivated", "identity changed")
    # Nothing left to revoke: no event.
    status, _ = await admin.delete(f"/api/v1/users/{user['id']}")
    assert len(await rows(pool, "sessions_revoked")) == 2


async def test_password_and_invitation_events_once_each(
        client: Client, world: World, pool: asyncpg.Pool, outbox: Outbox,
        app: web.Application) -> None:
    org = await world.org()
    admin = await caller(client, world, org, "admin")
    user = await world.user(org, "designer")
    first = await (await login(client, user["email"])).json()
    second = await (await login(client, user["email"])).json()
    auth = {"Authorization": f"Bearer {second['access_token']}", **AGENT}
    wrong = await client.post("/api/v1/auth/change-password", headers=auth, json={
        "current_password": "not it at all", "new_password": "Yeni şifre 2026!"})
    assert wrong.status == 422
    right = await client.post("/api/v1/auth/change-password", headers=auth, json={
        "current_password": PASSWORD, "new_password": "Yeni şifre 2026!"})
    assert right.status == 204
    assert len(await rows(pool, "password_change_failed")) == 1
    changed = [r for r in await rows(pool, "update")
               if r["record_id"] == user["id"] and "password_hash" in r["changed_fields"]]
    assert len(changed) == 1
    revoked = await rows(pool, "sessions_revoked")
    assert len(revoked) == 1 and revoked[0]["details"]["reason"] == "password changed"
    assert len(revoked[0]["details"]["sessions"]) == 1  # the first; the asking one stays
    assert first["access_token"] != second["access_token"]
    await client.post("/api/v1/auth/password-reset/request", json={"email": user["email"]})
    await app[BACKGROUND].settle()
    assert len(await rows(pool, "password_reset_requested")) == 1
    confirm = {"token": outbox.last_token(), "new_password": "Brand new secret 42"}
    assert (await client.post("/api/v1/auth/password-reset/confirm", json=confirm)).status == 204
    assert len(await rows(pool, "password_set_by_reset")) == 1
    invited = await world.user(org, "designer", status="invited")
    status, _ = await admin.post(f"/api/v1/users/{invited['id']}/invite")
    assert status == 202
    sent = await rows(pool, "invitation_sent")
    assert len(sent) == 1 and sent[0]["record_id"] == invited["id"]
    confirm = {"token": outbox.last_token(), "new_password": "Invited secret 42"}
    assert (await client.post("/api/v1/auth/password-reset/confirm", json=confirm)).status == 204
    assert len(await rows(pool, "password_set_by_invite")) == 1


async def test_each_export_is_audited_once(client: Client, world: World,
                                           pool: asyncpg.Pool) -> None:
    org = await world.org()
    admin = await caller(client, world, org, "admin")
    for _ in range(2):
        response = await client.get("/api/v1/audit/export", headers=admin.headers)
        assert response.status == 200
        await response.read()
    exported = await rows(pool, "audit_exported")
    assert len(exported) == 2 and {str(r["user_id"]) for r in exported} == {admin.id}
