"""A rule's refusal (`rules.errors`) is answered as the same RFC 9457 problem the server's own
errors give: 403 for NotPermitted, 409 for WrongState, 422 for InvalidInput, with the rule's
detail, code, field errors and extension members."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from db.queries.tasks import completion as completion_sql
from rules.errors import InvalidInput, NotPermitted, RuleError, WrongState
from rules.workflows import drawings, specs
from server.errors import ApiError, Conflict, Forbidden, Invalid, error_middleware, rule_problem


@pytest.mark.parametrize(("rule", "problem", "status", "default_code"), [
    (NotPermitted, Forbidden, 403, "forbidden"),
    (WrongState, Conflict, 409, "conflict"),
    (InvalidInput, Invalid, 422, "validation_failed"),
    (RuleError, ApiError, 500, "internal_error"),
])
def test_each_kind_maps_to_its_problem(rule: type[RuleError], problem: type[ApiError],
                                       status: int, default_code: str) -> None:
    plain = rule_problem(rule("No"))
    assert type(plain) is problem and plain.status == status
    assert (plain.detail, plain.code, plain.errors, plain.extra) == ("No", default_code, [], {})
    full = rule_problem(rule("No", code="own_code", errors=[{"field": "f", "message": "m"}],
                             extra={"state": "draft"}))
    assert (full.code, full.errors, full.extra) == (
        "own_code", [{"field": "f", "message": "m"}], {"state": "draft"})


def _refusal(call: Callable[[], object]) -> ApiError:
    with pytest.raises(RuleError) as caught:
        call()
    return rule_problem(caught.value)


def test_the_workflows_refusals_keep_their_problems() -> None:
    role = _refusal(lambda: drawings.next_state("draft", "approve", "designer"))
    assert (role.status, role.code) == (403, "insufficient_permissions")
    state = _refusal(lambda: drawings.next_state("approved", "submit", "designer"))
    assert (state.status, state.code, state.extra["state"]) == (409, "illegal_transition",
                                                                "approved")
    unknown = _refusal(lambda: specs.next_state("pending", "publish", "admin"))
    assert (unknown.status, unknown.code, unknown.errors[0]["field"]) == (
        422, "validation_failed", "action")
    comment = _refusal(lambda: specs.next_state("pending_approval", "reject", "admin", " "))
    assert (comment.status, comment.errors[0]["field"]) == (422, "comment")
    locked = _refusal(lambda: specs.LOCK.check_edit("approved", ["unit_cost"], "admin"))
    assert (locked.status, locked.code, locked.extra["locked_fields"]) == (
        409, "record_locked", ["unit_cost"])
    exhausted = _refusal(lambda: drawings.next_revision("Rev ZZ"))
    assert (exhausted.status, exhausted.code) == (409, "revisions_exhausted")


async def test_the_middleware_answers_a_rule_refusal(
        aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]]) -> None:
    async def step(request: web.Request) -> web.Response:
        drawings.next_state("approved", "submit", "designer")
        return web.Response()

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/step", step)
    client = await aiohttp_client(app)
    response = await client.get("/step")
    assert response.status == 409 and response.content_type == "application/problem+json"
    body = await response.json(content_type=None)
    assert (body["status"], body["code"], body["title"], body["state"]) == (
        409, "illegal_transition", "Conflict", "approved")
    assert body["allowed_actions"] == [] and body["type"].endswith("illegal-transition")


def test_task_completion_in_sql() -> None:
    """The database query writes what `rules.tasks.completion` decides."""
    assert completion_sql(None) == {}
    assert completion_sql("completed") == {"completed_at": "coalesce(completed_at, now())"}
    assert completion_sql("review") == {"completed_at": "NULL"}
