"""What a route handler's code does, read from its source: which models it reads the body
and the query with, whether it answers JSON, and which error statuses it can raise.

The walk follows every call it can resolve to a function of this project (`server`, `db`,
`realtime`), through the handler's decorators too, and maps what is raised or built to a
status: an `ApiError` subclass by its `status`, an aiohttp `HTTPException` by its
`status_code`. It over-approximates (a branch never taken still counts); errors that
PostgreSQL raises (a unique or foreign key refused) are not seen here and are declared by
hand from the schema."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from server.errors import ApiError

OURS = ("server.", "db.", "realtime.", "importer.", "cli.", "rules.", "storage.",
        "files.")
BODY_READERS = frozenset({"read_body"})
QUERY_READERS = frozenset({"read_query"})
JSON_ANSWERS = frozenset({"json_response", "record_response"})


@dataclass
class Facts:
    body_models: set[Any] = field(default_factory=set)
    query_models: set[Any] = field(default_factory=set)
    answers_json: bool = False
    errors: set[int] = field(default_factory=set)
    reads_query_directly: bool = False


def _status_of(value: Any) -> int | None:
    if isinstance(value, type) and issubclass(value, ApiError):
        return value.status
    if isinstance(value, type) and issubclass(value, web.HTTPException):
        return int(value.status_code)
    return None


def _resolve(node: ast.expr, scope: dict[str, Any]) -> Any:
    """The object a name or dotted attribute refers to in `scope`, or None."""
    if isinstance(node, ast.Name):
        return scope.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, scope)
        return None if base is None else getattr(base, node.attr, None)
    return None


def _function_of(value: Any) -> Callable[..., Any] | None:
    """A plain function of this project behind `value` (bound methods unwrapped)."""
    value = getattr(value, "__func__", value)
    if not inspect.isfunction(value):
        return None
    return value if value.__module__.startswith(OURS) else None


def _layers(handler: Any) -> Iterator[Callable[..., Any]]:
    """The handler and every `functools.wraps` layer around it."""
    while handler is not None:
        if inspect.isfunction(handler):
            yield handler
        handler = getattr(handler, "__wrapped__", None)


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


class _Walker:
    def __init__(self) -> None:
        self.facts = Facts()
        self.seen: set[Callable[..., Any]] = set()

    def walk(self, function: Callable[..., Any], top: bool) -> None:
        if function in self.seen:
            return
        self.seen.add(function)
        try:
            # Of the code itself: getsource(function) would follow `__wrapped__`.
            source = textwrap.dedent(inspect.getsource(function.__code__))
        except (OSError, TypeError):
            return
        scope = {**function.__globals__, **_closure(function)}
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call):
                self._call(node, scope, top)
            elif isinstance(node, ast.Raise) and node.exc is not None:
                target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                status = _status_of(_resolve(target, scope))
                if status is not None:
                    self.facts.errors.add(status)
            elif (top and isinstance(node, ast.Attribute) and node.attr == "query"
                  and isinstance(node.value, ast.Name) and node.value.id == "request"):
                self.facts.reads_query_directly = True

    def _call(self, node: ast.Call, scope: dict[str, Any], top: bool) -> None:
        name = _name(node.func)
        if name in BODY_READERS and len(node.args) > 1:
            self.facts.body_models.add(_resolve(node.args[1], scope))
        if name in QUERY_READERS and len(node.args) > 1:
            self.facts.query_models.add(_resolve(node.args[1], scope))
        if name in JSON_ANSWERS:
            self.facts.answers_json = True
        target = _resolve(node.func, scope)
        status = _status_of(target)
        if status is not None:
            self.facts.errors.add(status)
        function = _function_of(target)
        if function is not None:
            self.walk(function, top=False)


def _closure(function: Callable[..., Any]) -> dict[str, Any]:
    """Names a nested function (a decorator's wrapper) sees from its enclosing scope."""
    cells = function.__closure__ or ()
    values = {}
    for name, cell in zip(function.__code__.co_freevars, cells, strict=True):
        try:
            values[name] = cell.cell_contents
        except ValueError:
            continue
    return values


def facts_of(handler: Any) -> Facts:
    """What the route handler (with its decorators) reads, answers and raises."""
    walker = _Walker()
    for layer in _layers(handler):
        walker.walk(layer, top=True)
    # `request.query` handed to read_query is the declared way to read it.
    walker.facts.reads_query_directly &= not walker.facts.query_models
    return walker.facts
