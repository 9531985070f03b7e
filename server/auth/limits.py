"""When sign-in, password change and reset requests are refused with 429 + Retry-After.

The limits themselves are named in `server.auth.throttle`; this module decides which
counters a request is held by and which ones a failure adds to.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from aiohttp import web

from db.pool import system_transaction
from db.queries import sessions as sessions_q
from server.auth.throttle import KNOWN_ADDRESS_DAYS, pair_key
from server.errors import TooManyRequests
from server.keys import POOL, THROTTLES
from server.prometheus import count_auth_failure

UNKNOWN_ADDRESS = "unknown"


def _refuse(detail: str, wait: int) -> None:
    if wait:
        raise TooManyRequests(detail, headers={"Retry-After": str(wait)})


@dataclass(frozen=True)
class SignIn:
    """Who is trying: the account (its id when it exists, else the e-mail typed, so an
    unknown address is counted alike) and the caller's address."""

    account: str
    address: str
    user_id: uuid.UUID | None

    @classmethod
    def of(cls, email: str, user_id: uuid.UUID | None, address: str | None) -> SignIn:
        account = str(user_id) if user_id else "email:" + email.lower()
        return cls(account, address or UNKNOWN_ADDRESS, user_id)


async def check_address(app: web.Application, address: str | None) -> None:
    """429 when this address failed too often across accounts (checked before any lookup)."""
    wait = await app[THROTTLES].login_address.retry_after(address or UNKNOWN_ADDRESS)
    if wait > 0:
        count_auth_failure(app, "throttled_address")
    _refuse("Too many failed sign-ins; try again later", wait)


async def check_sign_in(app: web.Application, who: SignIn) -> None:
    """429 when this (account, address) failed too often, or the account did from
    everywhere together and this address never signed in to it lately."""
    throttles = app[THROTTLES]
    strict = await throttles.login_pair.retry_after(pair_key(who.account, who.address))
    ceiling = await throttles.login_account.retry_after(who.account)
    if ceiling and await _known_address(app, who):
        ceiling = 0
    if max(strict, ceiling) > 0:
        count_auth_failure(app, "throttled_account")
    _refuse("Too many failed sign-ins; try again later", max(strict, ceiling))


async def sign_in_failed(app: web.Application, who: SignIn) -> None:
    throttles = app[THROTTLES]
    await throttles.login_pair.fail(pair_key(who.account, who.address))
    await throttles.login_account.fail(who.account)
    await throttles.login_address.fail(who.address)


async def sign_in_succeeded(app: web.Application, who: SignIn) -> None:
    # Only the strict count is cleared: the owner signing in does not reopen the account
    # ceiling to guessing from elsewhere (the owner's own address is past it anyway).
    await app[THROTTLES].login_pair.reset(pair_key(who.account, who.address))


async def _known_address(app: web.Application, who: SignIn) -> bool:
    if who.user_id is None or who.address == UNKNOWN_ADDRESS:
        return False
    async with system_transaction(app[POOL]) as conn:
        return await sessions_q.signed_in_from(conn, who.user_id, who.address,
                                               KNOWN_ADDRESS_DAYS)


async def check_password_change(app: web.Application, user_id: uuid.UUID,
                                address: str | None) -> None:
    throttles = app[THROTTLES]
    wait = max(await throttles.password_user.retry_after(str(user_id)),
               await throttles.password_address.retry_after(address or UNKNOWN_ADDRESS))
    _refuse("Too many wrong current passwords; try again later", wait)


async def password_change_failed(app: web.Application, user_id: uuid.UUID,
                                 address: str | None) -> None:
    throttles = app[THROTTLES]
    await throttles.password_user.fail(str(user_id))
    await throttles.password_address.fail(address or UNKNOWN_ADDRESS)


async def password_change_succeeded(app: web.Application, user_id: uuid.UUID) -> None:
    await app[THROTTLES].password_user.reset(str(user_id))


async def check_reset_request(app: web.Application, address: str | None) -> None:
    """Every reset request counts against its address; 429 past the limit, whoever the
    e-mail belongs to (nothing is revealed)."""
    throttle = app[THROTTLES].reset_address
    key = address or UNKNOWN_ADDRESS
    _refuse("Too many reset requests; try again later", await throttle.retry_after(key))
    await throttle.fail(key)


async def reset_mail_allowed(app: web.Application, email: str) -> bool:
    """Whether one more reset mail may go to this address (the answer is 202 either way)."""
    throttle = app[THROTTLES].reset_account
    key = email.lower()
    if await throttle.retry_after(key):
        return False
    await throttle.fail(key)
    return True
