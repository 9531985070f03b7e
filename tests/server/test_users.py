"""User management by org admins; colleagues readable by everyone in the org."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.conftest import PASSWORD, Outbox, World

Client = TestClient[Any, Any]


async def test_admin_creates_user_who_signs_in(client: Client, world: World,
                                               app: web.Application) -> None:
    org = await world.org()
    admin = await world.user(org, "admin")
    headers = await world.headers(app, admin)
    body = {"email": "Elif.Sahin@example.test", "password": "Güçlü bir parola 1",
            "first_name": "Elif", "last_name": "Şahin", "role": "project_manager",
            "position": "PM"}
    created = await client.post("/api/v1/users", json=body, headers=headers)
    assert created.status == 201, await created.text()
    user = await created.json()
    assert user["status"] == "active" and user["role"] == "project_manager"
    assert not [k for k in user if "password" in k]
    assert created.headers["ETag"] == '"1"'
    signin = await client.post("/api/v1/auth/login", json={"email": "elif.sahin@example.test",
                                                           "password": "Güçlü bir parola 1"})
    assert signin.status == 200
    duplicate = await client.post("/api/v1/users", headers=headers,
                                  json={**body, "email": "ELIF.SAHIN@example.test"})
    assert duplicate.status == 409


async def test_only_admins_manage_users(client: Client, world: World,
                                        app: web.Application) -> None:
    org = await world.org()
    body = {"email": "x@example.test", "first_name": "X", "last_name": "Y", "role": "admin"}
    for role in ("project_manager", "designer", "coordinator", "craftsman", "client"):
        user = await world.user(org, role)
        response = await client.post("/api/v1/users", json=body,
                                     headers=await world.headers(app, user))
        assert response.status == 403, role
        target = await world.user(org, "designer")
        patch = await client.patch(f"/api/v1/users/{target['id']}", json={"role": "admin"},
                                   headers=await world.headers(app, user))
        assert patch.status == 403, role


async def test_create_validation_lists_every_field(client: Client, world: World,
                                                   app: web.Application) -> None:
    org = await world.org()
    headers = await world.headers(app, await world.user(org))
    response = await client.post("/api/v1/users", headers=headers, json={
        "email": "not-an-email", "first_name": "", "role": "superuser", "extra": 1,
        "password": "x" * 200})
    assert response.status == 422
    fields = {e["field"] for e in (await response.json())["errors"]}
    assert {"email", "first_name", "last_name", "role", "extra"} <= fields
    too_long = await client.post("/api/v1/users", headers=headers, json={
        "email": "ok@example.test", "first_name": "A", "last_name": "B", "role": "designer",
        "password": "ü" * 200})
    assert too_long.status == 422
    assert (await too_long.json())["errors"][0]["field"] == "password"
    client_user = await client.post("/api/v1/users", headers=headers, json={
        "email": "c@example.test", "first_name": "A", "last_name": "B", "role": "client"})
    assert client_user.status == 422
    assert (await client_user.json())["errors"][0]["field"] == "client_id"


async def test_role_change_and_deactivation_revoke_sessions(
    client: Client, world: World, app: web.Application,
) -> None:
    org = await world.org()
    admin_headers = await world.headers(app, await world.user(org))
    user = await world.user(org, "designer")
    user_headers = await world.headers(app, user)
    assert (await client.get("/api/v1/auth/me", headers=user_headers)).status == 200
    response = await client.patch(f"/api/v1/users/{user['id']}", headers=admin_headers,
                                  json={"role": "coordinator"})
    assert response.status == 200 and (await response.json())["role"] == "coordinator"
    assert (await client.get("/api/v1/auth/me", headers=user_headers)).status == 401
    user_headers = await world.headers(app, {**user, "role": "coordinator"})
    assert (await client.delete(f"/api/v1/users/{user['id']}",
                                headers=admin_headers)).status == 204
    assert (await client.get("/api/v1/auth/me", headers=user_headers)).status == 401
    signin = await client.post("/api/v1/auth/login",
                               json={"email": user["email"], "password": PASSWORD})
    assert signin.status == 401


async def test_stale_if_match_is_412(client: Client, world: World, app: web.Application) -> None:
    org = await world.org()
    headers = await world.headers(app, await world.user(org))
    user = await world.user(org, "designer")
    first = await client.patch(f"/api/v1/users/{user['id']}", json={"position": "Lead"},
                               headers={**headers, "If-Match": '"1"'})
    assert first.status == 200 and first.headers["ETag"] == '"2"'
    stale = await client.patch(f"/api/v1/users/{user['id']}", json={"position": "Other"},
                               headers={**headers, "If-Match": '"1"'})
    assert stale.status == 412
    assert (await stale.json())["current_version"] == 2


async def test_invitation_works_once(client: Client, world: World, app: web.Application,
                                     outbox: Outbox) -> None:
    org = await world.org()
    headers = await world.headers(app, await world.user(org))
    created = await client.post("/api/v1/users", headers=headers, json={
        "email": "new.hire@example.test", "first_name": "New", "last_name": "Hire",
        "role": "craftsman"})
    user = await created.json()
    assert user["status"] == "invited"
    invited = await client.post(f"/api/v1/users/{user['id']}/invite", headers=headers)
    assert invited.status == 202
    assert "token" not in await invited.text()
    confirm = {"token": outbox.last_token(), "new_password": "Atölye şifresi 7"}
    assert (await client.post("/api/v1/auth/password-reset/confirm", json=confirm)).status == 204
    assert (await client.post("/api/v1/auth/password-reset/confirm", json=confirm)).status == 422
    signin = await client.post("/api/v1/auth/login", json={"email": "new.hire@example.test",
                                                           "password": "Atölye şifresi 7"})
    assert signin.status == 200
    assert (await signin.json())["user"]["status"] == "active"


async def test_users_of_another_org_are_invisible(client: Client, world: World,
                                                  app: web.Application) -> None:
    org_a, org_b = await world.org(), await world.org()
    admin_a = await world.user(org_a)
    stranger = await world.user(org_b, "designer")
    headers = await world.headers(app, admin_a)
    assert (await client.get(f"/api/v1/users/{stranger['id']}", headers=headers)).status == 404
    patch = await client.patch(f"/api/v1/users/{stranger['id']}", headers=headers,
                               json={"position": "x"})
    assert patch.status == 404
    listing = await (await client.get("/api/v1/users", headers=headers)).json()
    assert [u["id"] for u in listing["data"]] == [str(admin_a["id"])]
    assert (await client.get("/api/v1/users/not-a-uuid", headers=headers)).status == 404


async def test_listing_pages_with_cursor(client: Client, world: World,
                                         app: web.Application) -> None:
    org = await world.org()
    headers = await world.headers(app, await world.user(org, last_name="Aaa"))
    for i in range(5):
        await world.user(org, "craftsman", last_name=f"Name{i}")
    seen: list[str] = []
    cursor = None
    while True:
        url = "/api/v1/users?limit=2&sort=last_name" + (f"&cursor={cursor}" if cursor else "")
        page = await (await client.get(url, headers=headers)).json()
        seen += [u["last_name"] for u in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["Aaa"] + [f"Name{i}" for i in range(5)]
    bad = await client.get("/api/v1/users?limit=500&sort=password_hash", headers=headers)
    assert bad.status == 422
    assert {e["field"] for e in (await bad.json())["errors"]} == {"limit"}
