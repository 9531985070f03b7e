"""The error family and the one middleware that renders every error as RFC 9457 problem+json."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import pydantic
from aiohttp import web

log = logging.getLogger("formula_pm.errors")

PROBLEM_JSON = "application/problem+json"
REQUEST_ID = web.RequestKey("request_id", str)

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


class PreconditionFailed(ApiError):
    status, code, title = 412, "stale_version", "Precondition failed"


class PayloadTooLarge(ApiError):
    status, code, title = 413, "payload_too_large", "Payload too large"


class UriTooLong(ApiError):
    status, code, title = 414, "uri_too_long", "URI too long"


class TooManyRequests(ApiError):
    status, code, title = 429, "rate_limited", "Too many requests"


class Unavailable(ApiError):
    status, code, title = 503, "unavailable", "Service unavailable"


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
    """Map constraint violations to client errors; anything else stays a server error."""
    constraint = getattr(exc, "constraint_name", None) or ""
    column = getattr(exc, "column_name", None) or constraint
    if isinstance(exc, asyncpg.UniqueViolationError):
        return Conflict("A record with these values already exists", code="duplicate",
                        errors=[{"field": _field_of(constraint), "message": "already exists"}])
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        if "still referenced" in (exc.detail or "") or "is still referenced" in str(exc):
            return Conflict("The record is still referenced by other records",
                            code="still_referenced")
        return Invalid("A referenced record does not exist",
                       errors=[{"field": _field_of(constraint), "message": "does not exist"}])
    if isinstance(exc, asyncpg.CheckViolationError):
        if constraint in CROSS_FIELD_CHECKS:
            field, message = CROSS_FIELD_CHECKS[constraint]
            return Invalid("Some values contradict each other",
                           errors=[{"field": field, "message": message}])
        return Invalid("A value is out of range",
                       errors=[{"field": _field_of(constraint), "message": "out of range"}])
    if isinstance(exc, asyncpg.NotNullViolationError):
        return Invalid("A required value is missing",
                       errors=[{"field": column, "message": "required"}])
    if isinstance(exc, asyncpg.PostgresConnectionError | asyncpg.OperatorInterventionError):
        # The server is restarting, shutting down, or cancelled a statement that ran too long.
        return Unavailable("The database is unavailable; try again shortly",
                           headers={"Retry-After": "2"})
    if isinstance(exc, asyncpg.InsufficientPrivilegeError):
        # Row-level security refused a write: the record is not visible to this user.
        return NotFound("Not found")
    if isinstance(exc, asyncpg.DataError | asyncpg.StringDataRightTruncationError):
        return Invalid("A value has the wrong form", errors=[{"field": "body",
                                                              "message": str(exc)[:200]}])
    return None


# Checks that compare columns (a PATCH may name one side only): the field to change.
CROSS_FIELD_CHECKS = {
    "ck_projects_dates": ("end_date", "must not be before start_date"),
    "ck_scope_items_dates": ("end_date", "must not be before start_date"),
    "ck_tasks_dates": ("due_date", "must not be before start_date"),
    "ck_users_client_role": ("client_id", "required for role client, only for role client"),
}


def _field_of(constraint: str) -> str:
    """`uq_users_email_lower` -> `email`; best effort, the message is what matters."""
    for prefix in ("uq_", "fk_", "ck_", "ix_"):
        if constraint.startswith(prefix):
            parts = constraint[len(prefix):].split("_")
            return parts[-1] if parts else constraint
    return constraint or "body"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _request_id(request: web.Request) -> str:
    given = request.headers.get("X-Request-ID", "")
    if given and len(given) <= 128 and given.isprintable():
        return given
    return uuid.uuid4().hex


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Assign the request id, then turn every failure into problem+json."""
    rid = _request_id(request)
    request[REQUEST_ID] = rid
    try:
        response = await handler(request)
    except ApiError as exc:
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
