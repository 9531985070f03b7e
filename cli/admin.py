"""Bootstrap operations of the command line: the first admin, and invitations."""

from __future__ import annotations

import uuid

from db.pool import Actor, create_pool, system_transaction
from db.queries import organizations, users
from server.auth.passwords import check_policy, hash_password
from server.config import ConfigError, Settings
from server.email_address import normalise_email
from server.errors import ApiError


async def create_admin(
    settings: Settings, *, org_slug: str, org_name: str | None, email: str, password: str,
    first_name: str, last_name: str,
) -> uuid.UUID:
    try:
        email = normalise_email(email)
    except ValueError as exc:
        raise ConfigError(f"--email {exc}") from exc
    try:
        check_policy(password, email=email)
    except ApiError as exc:
        raise ConfigError(f"--password {exc.errors[0]['message']}") from exc
    password_hash = await hash_password(password)
    pool = await create_pool(settings.database_url or "", min_size=1, max_size=1)
    try:
        async with system_transaction(pool, Actor(None, None, request_id="cli")) as conn:
            org = await organizations.id_by_slug(conn, org_slug)
            if org is None:
                org = await organizations.create(conn, org_name or org_slug, org_slug)
            if await users.email_taken(conn, email):
                raise ConfigError(f"a user with e-mail {email} already exists")
            user = await users.create(conn, org, {
                "email": email, "first_name": first_name, "last_name": last_name,
                "role": "admin"}, password_hash)
        user_id: uuid.UUID = user["id"]
        return user_id
    finally:
        await pool.close()


async def invite_user(settings: Settings, *, org_slug: str, email: str) -> str:
    from server.auth.invitations import issue_invitation

    pool = await create_pool(settings.database_url or "", min_size=1, max_size=1)
    try:
        async with system_transaction(pool, Actor(None, None, request_id="cli")) as conn:
            user_id = await users.id_in_org(conn, org_slug, email)
        if user_id is None:
            raise ConfigError(f"no user {email} in organisation {org_slug}")
        return await issue_invitation(pool, settings, user_id)
    finally:
        await pool.close()
