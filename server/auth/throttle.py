"""Counting failures per key in a window: Redis when it answers, process memory otherwise.

The limits of sign-in, password change and reset requests are named here. Sign-in has a
strict limit per (account, address), so an attacker elsewhere cannot lock the owner out,
and a much higher ceiling per account against guessing spread over many addresses; an
address that signed in to the account within KNOWN_ADDRESS_DAYS is not held by that
ceiling (the address is the server's own reading of the connection, see `client_ip`, so
it cannot be claimed), but stays under the strict limit like any other.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger("formula_pm.throttle")


class Throttle:
    """`limit` failures per `window` seconds; then blocked until the window ends.

    Only failures count: a success never increments, and `reset` clears the account's count.
    """

    def __init__(self, name: str, limit: int, window: int, prefix: str,
                 client: aioredis.Redis | None = None) -> None:
        self.name = name
        self.limit = limit
        self.window = window
        self.prefix = f"{prefix}throttle:{name}:"
        self.client = client
        self._memory: dict[str, tuple[int, float]] = {}

    async def retry_after(self, key: str) -> int:
        """Seconds until `key` may try again; 0 when not blocked."""
        count, ttl = await self._read(key)
        return max(1, int(ttl)) if count >= self.limit else 0

    async def fail(self, key: str) -> None:
        if self.client is not None:
            try:
                name = self.prefix + key
                async with self.client.pipeline(transaction=True) as pipe:
                    pipe.incr(name)
                    pipe.expire(name, self.window, nx=True)
                    await pipe.execute()
                return
            except (RedisError, OSError) as exc:
                log.warning("throttle falls back to memory: %s", exc)
        count, expires = self._memory_entry(key)
        self._memory[key] = (count + 1, expires)

    async def reset(self, key: str) -> None:
        self._memory.pop(key, None)
        if self.client is not None:
            try:
                await self.client.delete(self.prefix + key)
            except (RedisError, OSError):
                pass

    async def _read(self, key: str) -> tuple[int, float]:
        if self.client is not None:
            try:
                name = self.prefix + key
                async with self.client.pipeline(transaction=False) as pipe:
                    pipe.get(name)
                    pipe.ttl(name)
                    raw, ttl = await pipe.execute()
                redis_count = int(raw or 0)
                count, expires = self._memory_entry(key)
                return max(redis_count, count), max(float(ttl), expires - time.monotonic())
            except (RedisError, OSError):
                pass
        count, expires = self._memory_entry(key)
        return count, expires - time.monotonic()

    def _memory_entry(self, key: str) -> tuple[int, float]:
        now = time.monotonic()
        count, expires = self._memory.get(key, (0, now + self.window))
        if expires <= now:
            count, expires = 0, now + self.window
        if len(self._memory) > 100_000:
            self._memory = {k: v for k, v in self._memory.items() if v[1] > now}
        return count, expires


WINDOW = 900  # seconds: every limit below counts over 15 minutes
LOGIN_PER_ACCOUNT_ADDRESS = 5  # failed sign-ins of one account from one address
LOGIN_PER_ACCOUNT = 100  # failed sign-ins of one account from all addresses together
LOGIN_PER_ADDRESS = 30  # failed sign-ins from one address, all accounts together
KNOWN_ADDRESS_DAYS = 30  # a past successful sign-in's address passes the account ceiling
PASSWORD_CHANGE_PER_USER = 5  # wrong current passwords of one signed-in user
PASSWORD_CHANGE_PER_ADDRESS = 30  # wrong current passwords from one address
RESET_PER_ACCOUNT = 5  # reset mails to one address (further requests answer 202, no mail)
RESET_PER_ADDRESS = 30  # reset requests from one address (then 429)


@dataclass(frozen=True)
class Throttles:
    login_pair: Throttle
    login_account: Throttle
    login_address: Throttle
    password_user: Throttle
    password_address: Throttle
    reset_account: Throttle
    reset_address: Throttle


def make_throttles(prefix: str, client: aioredis.Redis | None) -> Throttles:
    def make(name: str, limit: int) -> Throttle:
        return Throttle(name, limit, WINDOW, prefix, client)

    return Throttles(
        login_pair=make("login-pair", LOGIN_PER_ACCOUNT_ADDRESS),
        login_account=make("login-account", LOGIN_PER_ACCOUNT),
        login_address=make("login-address", LOGIN_PER_ADDRESS),
        password_user=make("password-user", PASSWORD_CHANGE_PER_USER),
        password_address=make("password-address", PASSWORD_CHANGE_PER_ADDRESS),
        reset_account=make("reset-account", RESET_PER_ACCOUNT),
        reset_address=make("reset-address", RESET_PER_ADDRESS),
    )


def pair_key(account: str, address: str) -> str:
    return f"{address} {account}"  # neither holds a space
