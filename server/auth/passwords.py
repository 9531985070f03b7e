"""Password hashing (argon2id) off the event loop, and the strength policy."""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from server.errors import Invalid
from server.text import forbidden_characters

MIN_LENGTH = 10
MAX_LENGTH = 128  # argon2 has no 72-byte cut-off like bcrypt, but unbounded input is a DoS
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# A hash of a random password: verifying against it makes an unknown e-mail cost the same
# time as a wrong password.
_DUMMY_HASH = _hasher.hash("formula-pm-timing-equaliser-0b7f")

COMMON = frozenset({
    "password123", "password1234", "qwertyuiop", "1234567890", "letmein123", "admin12345",
    "formulapm123", "welcome123", "iloveyou12", "passw0rd123",
})


def check_policy(password: str, *, field: str = "password", email: str = "") -> None:
    """Raise 422 naming the field unless the password is acceptable."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH or len(password.encode()) > 4 * MAX_LENGTH:
        problems.append(f"must be at most {MAX_LENGTH} characters")
    if password.lower() in COMMON or (email and password.lower() == email.lower()):
        problems.append("is too common")
    if len(set(password)) < 4:
        problems.append("needs more distinct characters")
    if forbidden_characters(password):
        # New passwords only: a sign-in still takes whatever was set before this rule.
        problems.append("must not contain control characters or line breaks")
    if problems:
        raise Invalid("The password is too weak",
                      errors=[{"field": field, "message": "; ".join(problems)}])


async def hash_password(password: str) -> str:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, _hasher.hash, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """True if `password` matches; runs the same work when there is no stored hash."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(_verify, stored, password))


async def upgraded_hash(stored: str, password: str) -> str | None:
    """A new hash of `password` (just verified against `stored`) when `stored` was made with
    other parameters than today's, else None: a successful sign-in is the only moment the
    password is known, so it is when old hashes catch up. Reading the parameters is cheap;
    only the new hash goes to the executor."""
    try:
        weaker = _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return None
    return await hash_password(password) if weaker else None
