"""A sign-in is audited as the user's `login` action, and only so: it writes no user-row
audit entry and broadcasts no `user.updated` that would tell colleagues when someone signs in."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from tests.conftest import PASSWORD, World
from tests.realtime.conftest import InProcess, Sock


async def test_sign_in_is_no_user_change(
        one_worker: InProcess, pool: asyncpg.Pool, world: World,
        socks: Callable[[], Sock]) -> None:
    app, http, url = one_worker.app, one_worker.http, one_worker.url
    org = await world.org()
    admin = await world.user(org, "admin")
    colleague = await world.user(org, "designer")
    client_user = await world.user(org, "client")
    watcher = socks()
    await watcher.connect(url, await world.token(app, colleague))

    for user in (client_user, admin):
        response = await http.post("/api/v1/auth/login", json={
            "email": user["email"], "password": PASSWORD})
        assert response.status == 200, await response.text()
    token = (await response.json())["access_token"]
    # A later org-wide change must arrive: by then the sign-ins' events would have too.
    response = await http.post("/api/v1/clients", json={"name": "After the sign-ins"},
                               headers={"Authorization": f"Bearer {token}"})
    assert response.status == 201
    await watcher.wait_for(lambda: bool(watcher.named("client.created")))
    assert watcher.named("user.updated") == []

    async with pool.acquire() as conn:
        user_rows = await conn.fetch(
            "SELECT changed_fields FROM audit_logs WHERE table_name = 'users' "
            "AND action = 'update'")
        logins = await conn.fetch("SELECT user_id FROM audit_logs WHERE action = 'login'")
        signed_in = await conn.fetch(
            "SELECT id, version, updated_at, last_login_at FROM users WHERE id = ANY($1)",
            [client_user["id"], admin["id"]])
    assert user_rows == []
    assert {r["user_id"] for r in logins} == {client_user["id"], admin["id"]}
    before = {client_user["id"]: client_user, admin["id"]: admin}
    for row in signed_in:
        assert row["last_login_at"] is not None
        assert row["version"] == before[row["id"]]["version"]
        assert row["updated_at"] == before[row["id"]]["updated_at"]


async def test_a_real_change_with_a_sign_in_time_still_counts(
        pool: asyncpg.Pool, world: World) -> None:
    org = await world.org()
    user = await world.user(org, "designer")
    async with pool.acquire() as conn:
        await conn.execute("UPDATE users SET last_login_at = now(), position = 'Lead' "
                           "WHERE id = $1", user["id"])
        version = await conn.fetchval("SELECT version FROM users WHERE id = $1", user["id"])
        changed = await conn.fetchval(
            "SELECT changed_fields FROM audit_logs WHERE table_name = 'users' "
            "AND action = 'update' AND record_id = $1", user["id"])
    assert version == user["version"] + 1 and "position" in changed
