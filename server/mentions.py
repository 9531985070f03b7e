"""`@first.last` and `@email` mentions in comment bodies (pure parsing, no lookups)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
