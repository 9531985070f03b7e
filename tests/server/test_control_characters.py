"""Control characters in e-mail addresses and texts are refused at every door (422 naming
the field), and the mailer refuses them in headers whatever reaches it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from server.mailer import Mail, MailHeaderError, OutboxMailer, SmtpMailer, _message
from tests.conftest import PASSWORD, Outbox, World

Client = TestClient[Any, Any]
BAD_ADDRESSES = ["a\x1db@x.example.com", "ab@x.example.com\x1c", "a\u2028b@x.example.com",
                 "a\nbcc@x.example.com"]


async def assert_refused(response: Any, field: str) -> None:
    assert response.status == 422, await response.text()
    assert field in {e["field"] for e in (await response.json())["errors"]}


async def admin_headers(world: World, app: web.Application) -> dict[str, str]:
    org = await world.org()
    return await world.headers(app, await world.user(org))


def new_user(**changes: Any) -> dict[str, Any]:
    return {"email": "new.hire@firm.test", "first_name": "Yeni", "last_name": "Çalışan",
            "role": "designer", **changes}


@pytest.mark.parametrize("email", BAD_ADDRESSES)
async def test_create_user_refuses_a_bad_address(
    client: Client, world: World, app: web.Application, email: str, pool: Any,
) -> None:
    headers = await admin_headers(world, app)
    response = await client.post("/api/v1/users", headers=headers, json=new_user(email=email))
    await assert_refused(response, "email")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM users") == 1  # the admin only


@pytest.mark.parametrize("field", ["first_name", "last_name", "position", "department",
                                   "phone"])
async def test_create_and_update_user_refuse_control_characters_in_texts(
    client: Client, world: World, app: web.Application, field: str,
) -> None:
    headers = await admin_headers(world, app)
    bad = {field: "Ay\x1cşe"}
    await assert_refused(await client.post("/api/v1/users", headers=headers,
                                           json=new_user(**bad)), field)
    created = await client.post("/api/v1/users", headers=headers, json=new_user())
    assert created.status == 201, await created.text()
    user_id = (await created.json())["id"]
    await assert_refused(await client.patch(f"/api/v1/users/{user_id}", headers=headers,
                                            json=bad), field)
    await assert_refused(await client.patch(f"/api/v1/users/{user_id}", headers=headers,
                                            json={"skills": ["ok", "ka\x1bpı"]}), "skills.1")


async def test_a_new_address_is_stored_normalised(
    client: Client, world: World, app: web.Application,
) -> None:
    headers = await admin_headers(world, app)
    created = await client.post("/api/v1/users", headers=headers, json=new_user(
        email="Elif.Sahin@Firm.TEST", password="Güçlü bir parola 1"))
    assert (await created.json())["email"] == "Elif.Sahin@firm.test"
    signin = await client.post("/api/v1/auth/login", json={"email": "ELIF.SAHIN@firm.test",
                                                           "password": "Güçlü bir parola 1"})
    assert signin.status == 200


@pytest.mark.parametrize("email", BAD_ADDRESSES)
async def test_login_and_reset_request_refuse_a_bad_address(
    client: Client, world: World, email: str, outbox: Outbox,
) -> None:
    user = await world.user(await world.org())
    login = await client.post("/api/v1/auth/login", json={
        "email": email.replace("a", user["email"].split("@")[0], 1), "password": PASSWORD})
    await assert_refused(login, "email")
    reset = await client.post("/api/v1/auth/password-reset/request", json={"email": email})
    await assert_refused(reset, "email")


async def test_set_password_refuses_control_characters(
    client: Client, world: World, app: web.Application, outbox: Outbox,
) -> None:
    headers = await admin_headers(world, app)
    created = await client.post("/api/v1/users", headers=headers, json=new_user())
    user_id = (await created.json())["id"]
    assert (await client.post(f"/api/v1/users/{user_id}/invite", headers=headers)).status == 202
    token = outbox.last_token()
    await assert_refused(await client.post("/api/v1/auth/password-reset/confirm", json={
        "token": token + "\x1d", "new_password": "Atölye şifresi 7"}), "token")
    await assert_refused(await client.post("/api/v1/auth/password-reset/confirm", json={
        "token": token, "new_password": "Atölye\x1dşifresi 7"}), "new_password")
    ok = await client.post("/api/v1/auth/password-reset/confirm", json={
        "token": token, "new_password": "Atölye şifresi 7"})
    assert ok.status == 204


async def test_invite_of_a_stored_bad_address_is_422_not_500(
    client: Client, world: World, app: web.Application, outbox: Outbox, pool: Any,
) -> None:
    org = await world.org()
    headers = await world.headers(app, await world.user(org))
    # Stored before addresses were checked (or by an old import).
    legacy = await world.user(org, "designer", email="a\x1db@x.example.com", status="invited")
    response = await client.post(f"/api/v1/users/{legacy['id']}/invite", headers=headers)
    await assert_refused(response, "email")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM password_tokens") == 0
    assert not outbox.sent
    normal = await world.user(org, "designer", email="normal@firm.test", status="invited")
    response = await client.post(f"/api/v1/users/{normal['id']}/invite", headers=headers)
    assert response.status == 202
    assert [m.to for m in outbox.sent] == ["normal@firm.test"]


@pytest.mark.parametrize("header", ["to", "subject"])
@pytest.mark.parametrize("char", ["\x1c", "\x1d", "\n", "\r", "\x85", "\u2028", "\x00"])
def test_a_mail_with_a_control_character_in_a_header_is_refused(header: str, char: str) -> None:
    fields = {"to": "ok@firm.test", "subject": "Hello", "body": "line one\nline two\n"}
    fields[header] = f"ok{char}Bcc: victim@x.example.com"
    with pytest.raises(MailHeaderError, match=header.title()):
        Mail(**fields)


async def test_the_outbox_mailer_writes_a_normal_mail(tmp_path: Path) -> None:
    await OutboxMailer(tmp_path).send(Mail("ayse@firm.test", "Davet", "Merhaba\n\nlink\n"))
    [written] = await asyncio.to_thread(lambda: [p.read_text() for p in tmp_path.iterdir()])
    assert "To: ayse@firm.test" in written


def test_the_smtp_sender_is_checked_too() -> None:
    mailer = SmtpMailer("smtp://mail.firm.test", "Formula PM <pm@firm.test>\x1d")
    with pytest.raises(MailHeaderError):
        _message(Mail("ayse@firm.test", "Davet", "body"), mailer.sender)
