"""The error family and the one middleware that renders every error as RFC 9457 problem+json."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import pydantic
from aiohttp import web
from sqlalchemy import ForeignKeyConstraint, UniqueConstraint

from db.schema import metadata
from rules.errors import InvalidInput, NotPermitted, RuleError, WrongState

log = logging.getLogger("formula_pm.errors")

PROBLEM_JSON = "application/problem+json"
REQUEST_ID = web.RequestKey("request_id", str)
# Told of every 5xx answer (request, status): the audit trail's `server_error`.
ServerErrorHook = Callable[[web.Request, int], None]
ON_SERVER_ERROR: web.AppKey[ServerErrorHook] = web.AppKey("on_server_error")

FieldError = dict[str, str]


class ApiError(Exception):
    """Base of the family; each subclass fixes the status and the machine-readable code."""

    status = 500
    code = "internal_error"
    title = "Internal server error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        errors: Sequence[FieldError] = (),
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.code = code or self.code
        self.errors = list(errors)
        self.headers = headers or {}
        self.extra = extra or {}


class BadRequest(ApiError):
    status, code, title = 400, "bad_request", "Bad request"


class Invalid(ApiError):
    status, code, title = 422, "validation_failed", "Invalid input"


class Unauthorized(ApiError):
    status, code, title = 401, "unauthorized", "Not authenticated"


class Forbidden(ApiError):
    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(ApiError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(ApiError):
    status, code, title = 409, "conflict", "Conflict"


class Gone(ApiError):
    status, code, title = 410, "gone", "Gone"


class PreconditionFailed(ApiError):
    status, code, title = 412, "stale_version", "Precondition failed"


class PayloadTooLarge(ApiError):
    status, code, title = 413, "payload_too_large", "Payload too large"


class InsufficientStorage(ApiError):
    status, code, title = 507, "storage_quota_exceeded", "Insufficient storage"


class UriTooLong(ApiError):
    status, code, title = 414, "uri_too_long", "URI too long"


class TooManyRequests(ApiError):
    status, code, title = 429, "rate_limited", "Too many requests"


class Unavailable(ApiError):
    status, code, title = 503, "unavailable", "Service unavailable"


# How the server answers a rule's refusal (`rules.errors`): the same problem, the rule's
# detail, code (else the class's default), field errors and extension members. A bare
# RuleError (no kind) is a bug of the rule: a 500.
_RULE_PROBLEMS: dict[type[RuleError], type[ApiError]] = {
    NotPermitted: Forbidden, WrongState: Conflict, InvalidInput: Invalid, RuleError: ApiError}


def rule_problem(exc: RuleError) -> ApiError:
    """The problem that answers a rule's refusal."""
    kind = next(_RULE_PROBLEMS[k] for k in type(exc).__mro__ if k in _RULE_PROBLEMS)
    return kind(exc.detail, code=exc.code, errors=exc.errors, extra=exc.extra)


_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 406: "not_acceptable", 413: "payload_too_large",
    414: "uri_too_long", 415: "unsupported_media_type", 431: "headers_too_large",
}


def problem_response(
    status: int,
    title: str,
    detail: str,
    code: str,
    request_id: str,
    *,
    errors: Sequence[FieldError] = (),
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> web.Response:
    standard: dict[str, Any] = {
        "type": f"https://formula-pm.dev/problems/{code.replace('_', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": request_id,
        "errors": list(errors),
    }
    body = {**standard, **_extension_members(extra or {})}
    response = web.Response(
        status=status, text=json.dumps(body), content_type=PROBLEM_JSON, headers=headers
    )
    response.headers["X-Request-ID"] = request_id
    return response


# RFC 9457's members and the ones this service promises on every problem: an extension
# member may add to a problem, never redefine what these say.
RESERVED_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "code",
                              "request_id", "errors"})


def _extension_members(extra: dict[str, Any]) -> dict[str, Any]:
    clashing = RESERVED_MEMBERS.intersection(extra)
    if clashing:
        log.error("problem extension members dropped: %s", sorted(clashing))
    return {k: v for k, v in extra.items() if k not in RESERVED_MEMBERS}


def pydantic_errors(exc: pydantic.ValidationError) -> list[FieldError]:
    """Every bad field, with its dotted path and a readable message."""
    out = []
    for err in exc.errors(include_url=False):
        # A model-level (cross-field) check has no location but names its field.
        named = (err.get("ctx") or {}).get("field")
        field = ".".join(str(p) for p in err.get("loc", ())) or str(named or "body")
        message = err.get("msg", "invalid")
        if err.get("type") == "extra_forbidden":
            message = "unknown field"
        out.append({"field": field, "message": message})
    return out


def database_error(exc: asyncpg.PostgresError) -> ApiError | None:
    """Map what PostgreSQL refused to client errors; anything else stays a server error.

    The answer is our own wording (a field and a rule) and never PostgreSQL's: its messages
    name constraints, tables, types and the rejected values (which the log leaves out too).
    """
    if isinstance(exc, asyncpg.PostgresConnectionError | asyncpg.OperatorInterventionError):
        # The server is restarting, shutting down, or cancelled a statement that ran too long.
        return Unavailable("The database is unavailable; try again shortly",
                           headers={"Retry-After": "2"})
    if isinstance(exc, asyncpg.InsufficientPrivilegeError):
        # Row-level security refused a write: the record is not visible to this user.
        return NotFound("Not found")
    mapped = _refused_input(exc)
    if mapped is not None:
        log.info("database refused the input: %s %s", type(exc).__name__,
                 getattr(exc, "constraint_name", None) or "")
    return mapped


def _refused_input(exc: asyncpg.PostgresError) -> ApiError | None:
    """The client error of a constraint or data error, or None for any other error."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        return Conflict("A record with these values already exists", code="duplicate",
                        errors=[{"field": _key_column(exc), "message": "already exists"}])
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        # Row-level security drops the detail; the message still says which side failed.
        if ("is still referenced" in (exc.detail or "")
                or str(exc).startswith("update or delete on table")):
            return Conflict("The record is still referenced by other records",
                            code="still_referenced")
        return Invalid("A referenced record does not exist",
                       errors=[{"field": _key_column(exc), "message": "does not exist"}])
    if isinstance(exc, asyncpg.CheckViolationError):
        field, message = _check_rule(exc)
        return Invalid("A value is not allowed", errors=[{"field": field, "message": message}])
    if isinstance(exc, asyncpg.NotNullViolationError):
        return Invalid("A required value is missing",
                       errors=[{"field": _identifier(exc.column_name), "message": "required"}])
    if isinstance(exc, asyncpg.DataError):
        return Invalid("A value cannot be stored",
                       errors=[{"field": "body", "message": _data_rule(exc)}])
    return None


_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# A column inside an index expression like `lower(email::text)`: not a function, not a type.
_KEY_NAME = re.compile(r"(?<![:\w])([a-z_][a-z0-9_]*)\b(?!\s*\()")


def _identifier(name: str | None) -> str:
    """A column name of our schema, or `body` for anything that does not look like one."""
    return name if name and _IDENTIFIER.match(name) else "body"


@functools.cache
def _key_columns() -> dict[str, tuple[str, ...]]:
    """Columns of every named unique and foreign key of the schema."""
    out: dict[str, tuple[str, ...]] = {}
    for table in metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, UniqueConstraint | ForeignKeyConstraint) and isinstance(
                    constraint.name, str):
                out[constraint.name] = tuple(c.name for c in constraint.columns)
        for index in table.indexes:
            if index.unique and isinstance(index.name, str) and index.columns:
                out[index.name] = tuple(c.name for c in index.columns)
    return out


def _key_column(exc: asyncpg.PostgresError) -> str:
    """The field of a unique or foreign key: its last column (the one after the scope of
    `(project_id, name)`), from the schema, else from `Key (a, b)=(...)` (PostgreSQL
    leaves that out on tables with row-level security)."""
    known = _key_columns().get(getattr(exc, "constraint_name", None) or "")
    if known:
        return _identifier(known[-1])
    detail = getattr(exc, "detail", None) or ""
    if not detail.startswith("Key (") or ")=(" not in detail:
        return "body"
    columns = detail[len("Key ("):detail.index(")=(")].split(",")
    names = _KEY_NAME.findall(columns[-1])
    return _identifier(names[-1] if names else None)


# CHECK constraints are named `ck_<table>_<rule>`; the rules that do not name their field.
_CHECK_RULES: dict[str, tuple[str, str]] = {
    "tasks.dates": ("due_date", "must not be before the start date"),
    "projects.dates": ("end_date", "must not be before the start date"),
    "scope_items.dates": ("end_date", "must not be before the start date"),
    "material_specs.lead_time": ("lead_time_days", "must not be negative"),
    "users.client_role": ("client_id", "required for a client user, only for one"),
    "item_links.one_target": ("body", "a link names exactly one record"),
}
_CHECK_SUFFIXES = {"_length": "too long or empty", "_format": "has the wrong form",
                   "_label": "has the wrong form"}


def _check_rule(exc: asyncpg.PostgresError) -> tuple[str, str]:
    """(field, message) of a violated CHECK constraint, in our words."""
    table = getattr(exc, "table_name", None) or ""
    rule = (getattr(exc, "constraint_name", None) or "").removeprefix(f"ck_{table}_")
    if f"{table}.{rule}" in _CHECK_RULES:
        return _CHECK_RULES[f"{table}.{rule}"]
    for suffix, message in _CHECK_SUFFIXES.items():
        if rule.endswith(suffix):
            return _identifier(rule.removesuffix(suffix)), message
    return _identifier(rule), "not an allowed value"


def _data_rule(exc: asyncpg.PostgresError) -> str:
    """What kind of value PostgreSQL could not store, without its message."""
    if isinstance(exc, asyncpg.CharacterNotInRepertoireError
                  | asyncpg.UntranslatableCharacterError):
        return "text contains a character that cannot be stored (such as U+0000)"
    if isinstance(exc, asyncpg.StringDataRightTruncationError):
        return "a text is too long"
    if isinstance(exc, asyncpg.NumericValueOutOfRangeError):
        return "a number is too large"
    if isinstance(exc, asyncpg.DatetimeFieldOverflowError):
        return "a date or time is out of range"
    # asyncpg's own refusals to encode an argument carry the kind in their message.
    text = str(exc)
    if "out of range" in text and ("date" in text or "time" in text):
        return "a date or time is out of range"
    if "out of range" in text:
        return "a number is too large"
    return "a value has the wrong form"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _request_id(request: web.Request) -> str:
    given = request.headers.get("X-Request-ID", "")
    if given and len(given) <= 128 and given.isprintable():
        return given
    return uuid.uuid4().hex


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Assign the request id, then turn every failure into problem+json; 5xx answers are
    reported to the app's ON_SERVER_ERROR hook."""
    response = await _answer(request, handler)
    if response.status >= 500 and (hook := request.app.get(ON_SERVER_ERROR)) is not None:
        hook(request, response.status)
    return response


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    rid = _request_id(request)
    request[REQUEST_ID] = rid
    try:
        response = await handler(request)
    except (ApiError, RuleError) as caught:
        exc = rule_problem(caught) if isinstance(caught, RuleError) else caught
        return problem_response(exc.status, exc.title, exc.detail, exc.code, rid,
                                errors=exc.errors, headers=exc.headers, extra=exc.extra)
    except pydantic.ValidationError as exc:
        return problem_response(422, "Invalid input", "The request has invalid fields",
                                "validation_failed", rid, errors=pydantic_errors(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        return problem_response(exc.status, exc.reason, exc.text or exc.reason, code, rid,
                                headers={k: v for k, v in exc.headers.items()
                                         if k in ("Allow", "Retry-After")})
    except asyncpg.PostgresError as exc:
        mapped = database_error(exc)
        if mapped is None:
            log.exception("database error", extra={"request_id": rid})
            return problem_response(500, "Internal server error", "Unexpected database error",
                                    "internal_error", rid)
        return problem_response(mapped.status, mapped.title, mapped.detail, mapped.code, rid,
                                errors=mapped.errors, headers=mapped.headers)
    except (TimeoutError, OSError, asyncpg.InterfaceError, asyncpg.InternalClientError) as exc:
        # The database went away under a request: a broken connection can surface as a
        # client-state error of asyncpg (InternalClientError) rather than a connection error.
        log.warning("dependency unavailable: %s", exc, extra={"request_id": rid})
        return problem_response(503, "Service unavailable", "The database is unavailable",
                                "unavailable", rid, headers={"Retry-After": "2"})
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error", extra={"request_id": rid})
        return problem_response(500, "Internal server error", "Unexpected error",
                                "internal_error", rid)
    response.headers["X-Request-ID"] = rid
    return response
