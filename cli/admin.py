"""Bootstrap operations of the command line: the first admin, and invitations."""

from __future__ import annotations

import uuid

from db.pool import Actor, create_pool, system_transaction
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
            org = await conn.fetchval("SELECT id FROM organizations WHERE slug = $1", org_slug)
            if org is None:
                org = await conn.fetchval(
                    "INSERT INTO organizations (name, slug) VALUES ($1, $2) RETURNING id",
                    org_name or org_slug, org_slug)
            if await conn.fetchval("SELECT 1 FROM users WHERE lower(email) = lower($1)", email):
                raise ConfigError(f"a user with e-mail {email} already exists")
            user_id: uuid.UUID = await conn.fetchval(
                """INSERT INTO users (org_id, email, password_hash, first_name, last_name, role,
                                      status)
                   VALUES ($1, $2, $3, $4, $5, 'admin', 'active') RETURNING id""",
                org, email, password_hash, first_name, last_name)
        return user_id
    finally:
        await pool.close()


async def invite_user(settings: Settings, *, org_slug: str, email: str) -> str:
    from server.auth.invitations import issue_invitation

    pool = await create_pool(settings.database_url or "", min_size=1, max_size=1)
    try:
        async with system_transaction(pool, Actor(None, None, request_id="cli")) as conn:
            user = await conn.fetchrow(
                """SELECT u.id FROM users u JOIN organizations o ON o.id = u.org_id
                   WHERE o.slug = $1 AND lower(u.email) = lower($2)""", org_slug, email)
        if user is None:
            raise ConfigError(f"no user {email} in organisation {org_slug}")
        return await issue_invitation(pool, settings, user["id"])
    finally:
        await pool.close()
