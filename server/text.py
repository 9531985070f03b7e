"""Which characters a text field may hold: no control or invisible format characters.

Control characters (Unicode Cc) and format characters (Cf: bidi overrides, zero-width
spaces, BOMs) have no business in a name, a code or a phone number; some of them (U+001C
to U+001F, U+0085), like the separators U+2028/U+2029 (Zl, Zp), are line breaks to
Python's `str.splitlines`, which is how the e-mail library ended up with a header split in
two. Multi-line texts keep tab and line breaks, and the zero-width joiners that emoji
sequences and some scripts need.
"""

from __future__ import annotations

import unicodedata

import pydantic

LINE_BREAKS = frozenset("\t\n\r")
JOINERS = frozenset("\u200c\u200d")  # ZWNJ, ZWJ: Persian/Indic spelling, emoji sequences


CONTROL = frozenset({"Cc", "Cf"})
ONE_LINE_FORBIDDEN = CONTROL | {"Zl", "Zp"}


def forbidden_characters(value: str, allowed: frozenset[str] = frozenset(),
                         categories: frozenset[str] = ONE_LINE_FORBIDDEN) -> list[str]:
    """The distinct characters of `value` in `categories` but not in `allowed`, as U+XXXX."""
    # Fast path (C speed): a printable text, once the allowed characters are blanked out,
    # holds none of them (isprintable is False for every Cc, Cf, Zl and Zp character).
    if value.translate(dict.fromkeys(map(ord, allowed), " ")).isprintable():
        return []
    found: list[str] = []
    for char in value:
        if char in allowed or unicodedata.category(char) not in categories:
            continue
        code = f"U+{ord(char):04X}"
        if code not in found:
            found.append(code)
    return found


def _checker(allowed: frozenset[str], categories: frozenset[str],
             what: str) -> pydantic.AfterValidator:
    def check(value: str) -> str:
        found = forbidden_characters(value, allowed, categories)
        if found:
            raise ValueError(f"must not contain {what} ({', '.join(found[:5])})")
        return value

    return pydantic.AfterValidator(check)


# Markers for Annotated[str, ...]: the shared field types carry one of them.
ONE_LINE = _checker(frozenset(), ONE_LINE_FORBIDDEN, "control characters or line breaks")
MULTI_LINE = _checker(LINE_BREAKS | JOINERS, CONTROL,
                      "control characters other than tab and newline")
