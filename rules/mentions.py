"""`@first.last` and `@email` mentions in comment bodies: parsing, and who of those named
is notified (pure functions, no lookups)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# `@` not glued to a word (so `ayse@formula.test` is an address, not a mention).
_EMAIL = re.compile(r"(?<![\w.@])@([\w.+-]+@[\w-]+(?:\.[\w-]+)+)")
_NAME = re.compile(r"(?<![\w.@])@([^\W_][\w-]*)\.([^\W_][\w-]*)")
MAX_MENTIONS = 50


@dataclass
class Mentions:
    """Who a body names: lower-cased e-mail addresses and (first, last) name pairs."""

    emails: set[str] = field(default_factory=set)
    names: set[tuple[str, str]] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.emails or self.names)


def parse_mentions(body: str) -> Mentions:
    """Every mention in `body`, at most MAX_MENTIONS of each kind."""
    found = Mentions()
    for match in _EMAIL.finditer(body):
        if len(found.emails) < MAX_MENTIONS:
            found.emails.add(match.group(1).rstrip(".").lower())
    rest = _EMAIL.sub(" ", body)
    for match in _NAME.finditer(rest):
        if len(found.names) < MAX_MENTIONS:
            found.names.add((match.group(1).lower(), match.group(2).lower()))
    return found


def snippet(body: str, limit: int = 200) -> str:
    """The start of a body for a notification message."""
    flat = " ".join(body.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class Named:
    """One user a mention names (user_id None: the handle names nobody in the organisation)."""

    handle: str
    user_id: uuid.UUID | None
    active: bool
    can_see: bool
    is_client: bool = False


def _reason(named: Named, author_id: uuid.UUID, shared: bool) -> str | None:
    """Why `named` cannot be mentioned, or None when they can."""
    if named.user_id is None:
        return "unknown_user"
    if named.user_id == author_id:
        return "author"
    if not named.active:
        return "inactive"
    if not named.can_see:
        return "not_a_member"
    if named.is_client and not shared:
        return "internal_comment"  # a client user may not read it: no notification
    return None


@dataclass
class Outcome:
    """Who a comment mentions, and everyone it names but does not notify, with why."""

    mentionable: list[uuid.UUID] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def report(self, added: Iterable[uuid.UUID]) -> dict[str, Any]:
        """The writer's answer: who this write notified, and who it did not and why
        (a user mentioned by an earlier version of the comment was notified then)."""
        new = set(added)
        earlier = [{"user_id": str(u), "reason": "already_notified"}
                   for u in self.mentionable if u not in new]
        return {"notified": [str(u) for u in self.mentionable if u in new],
                "not_notified": [*self.skipped, *earlier]}


def sort_out(named: Iterable[Named], author_id: uuid.UUID, *, shared: bool) -> Outcome:
    """Split the users a body names into those to mention and those left out (a user
    named twice counts once; client users only in a `shared` comment)."""
    outcome = Outcome()
    seen: set[uuid.UUID] = set()
    for one in named:
        if one.user_id in seen:
            continue
        reason = _reason(one, author_id, shared)
        if one.user_id is not None:
            seen.add(one.user_id)
            if reason is None:
                outcome.mentionable.append(one.user_id)
                continue
        entry = {"handle": one.handle, "reason": reason or "unknown_user"}
        if one.user_id is not None:
            entry["user_id"] = str(one.user_id)
        outcome.skipped.append(entry)
    return outcome


def named_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[Named]:
    return [Named(r["handle"], r["user_id"], r["status"] == "active", bool(r["can_see"]),
                  bool(r["is_client"])) for r in rows]
