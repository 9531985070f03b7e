"""How deeply JSON nests, measured without recursion (pure functions).

Python's json parser and encoder, pydantic and python-socketio all walk nested values
recursively: a value nested a few hundred to a few thousand levels deep raises
RecursionError wherever it goes. Anything that parses JSON it did not write itself measures
the text first, here, with a loop, and refuses what nests deeper than it needs.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any, NamedTuple

# A JSON string literal, escapes included: skipped whole, so brackets inside never count.
_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_TOKEN = re.compile(_STRING + r"|[\[\]{}]", re.DOTALL)
_STRINGS = re.compile(_STRING, re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class Nesting(NamedTuple):
    """The deepest nesting found and, when the text is an object, the top-level key under
    which it lies ("" when that is the top level itself or the text is not an object)."""

    depth: int
    key: str


class TooDeep(ValueError):
    """JSON nested deeper than allowed (a ValueError: callers that reject bad JSON with
    `except ValueError` reject this too)."""

    def __init__(self, limit: int, key: str = "") -> None:
        super().__init__(f"nested deeper than {limit} levels")
        self.limit = limit
        self.key = key


def nesting(text: str, stop_above: int | None = None) -> Nesting:
    """Depth of arrays and objects in `text` (`{}` is 1, `{"a": [1]}` is 2); with
    `stop_above`, the scan ends as soon as the depth passes it."""
    depth = deepest = 0
    key = where = last_string = ""
    object_at_top = text.lstrip().startswith("{")
    for match in _TOKEN.finditer(text):
        token = match.group()
        mark = token[0]
        if mark == '"':
            if depth == 1:
                last_string = token
            continue
        if mark in "]}":
            depth -= 1
            continue
        depth += 1
        if depth == 2:
            key = _key_text(last_string) if object_at_top else ""
        if depth > deepest:
            deepest, where = depth, key if depth > 1 else ""
            if stop_above is not None and depth > stop_above:
                break
    return Nesting(deepest, where)


def too_deep(text: str, limit: int) -> Nesting | None:
    """None when `text` nests at most `limit` deep; otherwise where it goes deeper."""
    # Fewer brackets than the limit cannot nest deeper than it: most texts stop here.
    if text.count("[") + text.count("{") <= limit:
        return None
    # The depth alone, at C speed: strings out, then a running sum over the brackets left.
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    if max(accumulate(map(_STEP.__getitem__, brackets)), default=0) <= limit:
        return None
    return nesting(text, stop_above=limit)  # too deep: find under which key


def loads_bounded(raw: str | bytes, limit: int, **options: Any) -> Any:
    """`json.loads`, refusing (TooDeep) text that nests deeper than `limit` before parsing
    it, so neither the parser nor whoever walks the result can run out of stack."""
    text = raw.decode(json.detect_encoding(raw), "surrogatepass") if isinstance(
        raw, bytes | bytearray) else raw
    found = too_deep(text, limit)
    if found is not None:
        raise TooDeep(limit, found.key)
    return json.loads(text, **options)


def value_depth(value: object, stop_above: int | None = None) -> int:
    """Depth of lists and dicts in a parsed value, as `nesting` counts it, with a loop."""
    deepest = 0
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if stop_above is not None and deepest > stop_above:
            break
        pending.extend((child, level + 1) for child in children)
    return deepest


def _key_text(token: str) -> str:
    try:
        return str(json.loads(token))
    except ValueError:  # an escape json refuses: the raw text names it well enough
        return token[1:-1]
