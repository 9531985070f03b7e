"""One-time set-password tokens: admin invitations and self-service password resets."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from db.pool import system_transaction
from db.queries import password_tokens, users
from server.auth.tokens import hash_token, new_one_time_token
from server.config import Settings
from server.mailer import Mail, Mailer, OutboxMailer, SmtpMailer

INVITE_TTL = dt.timedelta(days=7)
RESET_TTL = dt.timedelta(hours=1)


def mailer_for(settings: Settings) -> Mailer:
    if settings.smtp_url:
        return SmtpMailer(settings.smtp_url, settings.mail_from)
    return OutboxMailer(settings.data_dir / "outbox")


async def create_token(conn: asyncpg.Connection, user_id: uuid.UUID, purpose: str) -> str:
    """A new token; earlier unused tokens of the same purpose stop working."""
    token = new_one_time_token()
    ttl = INVITE_TTL if purpose == "invite" else RESET_TTL
    await password_tokens.replace(conn, user_id, hash_token(token), purpose, ttl)
    return token


def set_password_link(settings: Settings, token: str) -> str:
    return f"{settings.public_url}/#/set-password?token={token}"


async def issue_invitation(pool: asyncpg.Pool, settings: Settings, user_id: uuid.UUID,
                           mailer: Mailer | None = None) -> str:
    """Create an invitation and mail it; returns the link (for the CLI to print)."""
    async with system_transaction(pool) as conn:
        email = await users.email_of(conn, user_id)
        token = await create_token(conn, user_id, "invite")
    assert email is not None  # no such user: the token's foreign key failed already
    link = set_password_link(settings, token)
    await (mailer or mailer_for(settings)).send(Mail(
        to=email, subject="You are invited to Formula PM",
        body=f"Set your password to sign in (the link works once, for 7 days):\n\n{link}\n"))
    return link


async def consume_token(conn: asyncpg.Connection, token: str) -> asyncpg.Record | None:
    """Mark a live token used and return it (with its purpose and user), or None."""
    return await password_tokens.consume(conn, hash_token(token))
