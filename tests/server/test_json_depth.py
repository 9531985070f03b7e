"""Deeply nested JSON: the pure depth measure, and every JSON door of the API refusing it
with problem+json (never a 500, never a RecursionError)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from db.json_depth import Nesting, TooDeep, loads_bounded, nesting, too_deep, value_depth
from server.validation import MAX_BODY_DEPTH, MAX_FREE_CHARS, MAX_FREE_DEPTH
from tests.conftest import PASSWORD, World
from tests.server.project_team import make_team, send

SPECS = "/api/v1/material-specs"


def deep(levels: int, inner: str = "1") -> str:
    return "[" * levels + inner + "]" * levels


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


# -- the pure measure ---------------------------------------------------------------------

@pytest.mark.parametrize(("text", "depth"), [
    ("1", 0), ('"[[[["', 0), ("{}", 1), ("[]", 1), ('{"a": [1, {"b": []}]}', 4),
    ('["]", "\\"[", {"x": "}}}"}]', 2), (deep(40), 40),
])
def test_nesting_counts_brackets_outside_strings(text: str, depth: int) -> None:
    assert nesting(text).depth == depth
    assert (too_deep(text, depth) is None) and (depth == 0 or too_deep(text, depth - 1))


def test_nesting_names_the_top_level_key_and_stops_early() -> None:
    text = '{"name": "x", "tags": ["a"], "spec": ' + deep(500) + "}"
    assert nesting(text) == Nesting(501, "spec")
    assert too_deep(text, 16) == Nesting(17, "spec")
    assert too_deep(deep(500), 16) == Nesting(17, "")  # an array: no key to name
    assert too_deep('{"x": ' + deep(10) + "}", 16) is None


def test_measure_survives_100k_levels_without_recursion() -> None:
    text = "[" * 100_000
    assert too_deep(text, MAX_BODY_DEPTH) == Nesting(MAX_BODY_DEPTH + 1, "")
    assert nesting(deep(100_000)).depth == 100_000
    with pytest.raises(RecursionError):  # what the project no longer lets json see
        json.loads(deep(100_000))
    with pytest.raises(TooDeep):
        loads_bounded(deep(100_000).encode(), 32)
    with pytest.raises(ValueError):  # TooDeep is a ValueError: cursor decoders reject it
        loads_bounded("[" * 100_000, 32)
    assert loads_bounded(b'{"a": [1.5]}', 2, parse_float=str) == {"a": ["1.5"]}
    assert loads_bounded('{"a": [1.5]}'.encode("utf-16"), 2) == {"a": [1.5]}


def test_value_depth_is_iterative() -> None:
    assert value_depth(1) == 0 and value_depth({}) == 1 and value_depth([[], {"a": [1]}]) == 3
    value: Any = []
    for _ in range(100_000):
        value = [value]
    assert value_depth(value, stop_above=16) == 17
    assert value_depth(value) == 100_001


# -- the edge -----------------------------------------------------------------------------

def assert_too_deep(status: int, problem: dict[str, Any], field: str = "body") -> None:
    assert status == 422, problem
    assert problem["code"] == "too_deep" and problem["status"] == 422
    assert [e["field"] for e in problem["errors"]] == [field]


async def raw(client: TestClient[Any, Any], method: str, path: str, body: str,
              headers: dict[str, str] | None = None) -> tuple[int, Any]:
    response = await client.request(method, path, data=body.encode(), headers={
        "Content-Type": "application/json", **(headers or {})})
    assert response.content_type == "application/problem+json", await response.text()
    return response.status, await response.json(content_type=None)


async def test_deep_bodies_are_problems_on_every_kind_of_route(
        client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    designer = team.headers["designer"]
    user = team.users["designer"]
    _, spec = await send(client, "POST", SPECS, designer, {
        "project_id": str(team.project), "description": "Oak veneer"})
    bodies = {
        "500 levels": '{"email": "a@b.co", "password": ' + deep(500) + "}",
        "100k levels": '{"password": ' + "[" * 100_000 + "1" + "]" * 100_000 + "}",
        "unclosed": "[" * 100_000,
    }
    for label, body in bodies.items():
        status, problem = await raw(client, "POST", "/api/v1/auth/login", body)
        assert_too_deep(status, problem, "body" if label == "unclosed" else "password")
        status, problem = await raw(client, "PATCH", f"{SPECS}/{spec['id']}", body, designer)
        assert_too_deep(status, problem, "body" if label == "unclosed" else "password")
        status, problem = await raw(client, "POST", SPECS, body,
                                    {**designer, "Idempotency-Key": f"k-{label}"})
        assert_too_deep(status, problem, "body" if label == "unclosed" else "password")
    # The bound leaves every real body alone: sign-in still works.
    response = await client.post("/api/v1/auth/login",
                                 json={"email": user["email"], "password": PASSWORD})
    assert response.status == 200


async def test_free_form_values_are_bounded_and_the_field_named(
        client: TestClient[Any, Any], world: World) -> None:
    team = await make_team(world, client)
    designer = team.headers["designer"]
    body = {"project_id": str(team.project), "description": "Oak veneer"}
    status, problem = await send(client, "POST", SPECS, designer,
                                 {**body, "specification": nested(MAX_FREE_DEPTH + 1)})
    assert status == 422 and problem["code"] == "validation_failed"
    assert [e["field"] for e in problem["errors"]] == ["specification"]
    assert "16 levels" in problem["errors"][0]["message"]
    # The pen-test's ~1 KB value, 500 levels deep: refused by the body bound, field named.
    status, problem = await raw(client, "POST", SPECS, json.dumps(
        {**body, "specification": {"a": json.loads(deep(MAX_BODY_DEPTH))}}
    ).replace(deep(MAX_BODY_DEPTH), deep(500)), designer)
    assert_too_deep(status, problem, "specification")
    big = {f"k{i}": "x" * 1000 for i in range(MAX_FREE_CHARS // 1000 + 1)}
    status, problem = await send(client, "POST", SPECS, designer, {**body, "specification": big})
    assert status == 422 and [e["field"] for e in problem["errors"]] == ["specification"]
    status, spec = await send(client, "POST", SPECS, designer,
                              {**body, "specification": nested(MAX_FREE_DEPTH)})
    assert status == 201 and spec["specification"] == nested(MAX_FREE_DEPTH)
    status, problem = await send(client, "PATCH", f"{SPECS}/{spec['id']}", designer,
                                 {"specification": nested(MAX_FREE_DEPTH + 1)})
    assert status == 422 and [e["field"] for e in problem["errors"]] == ["specification"]


@pytest.mark.parametrize("path", [
    "/api/v1/tasks?cursor={}", "/api/v1/audit?cursor={}",
    "/api/v1/search?q=oak&cursor={}",
])
async def test_deep_cursors_are_invalid_cursors(client: TestClient[Any, Any], world: World,
                                                path: str) -> None:
    team = await make_team(world, client)
    cursor = base64.urlsafe_b64encode(("[" * 1500).encode()).decode().rstrip("=")
    response = await client.get(path.format(cursor), headers=team.headers["admin"])
    problem = await response.json(content_type=None)
    assert response.status == 422, problem
    assert [e["field"] for e in problem["errors"]] == ["cursor"]


async def test_a_stored_value_deeper_than_the_api_allows_reads_as_null(
        client: TestClient[Any, Any], world: World, pool: Any) -> None:
    """Written by raw SQL past every edge check: the list and the record still answer."""
    team = await make_team(world, client)
    designer = team.headers["designer"]
    status, spec = await send(client, "POST", SPECS, designer,
                              {"project_id": str(team.project), "description": "Marble"})
    assert status == 201
    await pool.execute("UPDATE material_specs SET specification = $1::text::jsonb "
                       "WHERE id = $2::uuid", deep(3000), spec["id"])
    status, listed = await send(client, "GET", f"{SPECS}?project_id={team.project}",
                                designer)
    assert status == 200 and listed["data"][0]["specification"] is None
    status, one = await send(client, "GET", f"{SPECS}/{spec['id']}", designer)
    assert status == 200 and one["specification"] is None and one["description"] == "Marble"
