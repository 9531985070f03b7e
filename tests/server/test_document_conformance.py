"""What schemathesis (bench/fuzz_openapi.py) found the server accepting although the OpenAPI
document calls it invalid: each is now refused, as the document says."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import World
from tests.server.project_team import make_team, send


async def test_body_values_must_have_their_json_type(client: TestClient[Any, Any],
                                                     world: World) -> None:
    """A date is a string (not seconds since 1970), a number is not a string, a boolean
    is true or false: pydantic's lax mode took `"end_date": 0` as 1970-01-01."""
    team = await make_team(world, client)
    admin = team.headers["admin"]
    for field, value in (("end_date", 0), ("end_date", "2026-01-31T00:00:00"),
                         ("budget", True), ("progress", "50")):
        status, body = await send(client, "POST", "/api/v1/projects", admin,
                                  {"name": "Typed", "type": "office", field: value})
        if field == "progress":  # not a field of a new project at all
            assert status == 422
            continue
        assert status == 422, (field, value, body)
        assert [e["field"] for e in body["errors"]] == [field], body
    status, body = await send(client, "PATCH", f"/api/v1/projects/{team.project}", admin,
                              {"progress": "50"})
    assert status == 422 and body["errors"][0]["field"] == "progress"
    status, body = await send(client, "POST", "/api/v1/projects", admin, {
        "name": "Typed", "type": "office", "end_date": "2026-01-31", "budget": "12500.50"})
    assert status == 201, body
    assert (body["end_date"], body["budget"]) == ("2026-01-31", "12500.50")


async def test_headers_follow_their_documented_patterns(client: TestClient[Any, Any],
                                                        world: World) -> None:
    """If-Match is checked with the very pattern the document publishes (int() took `3_0`,
    `-1` and Arabic-Indic digits as versions); the Idempotency-Key pattern says what the
    server refuses: 1-255 printable characters."""
    team = await make_team(world, client)
    admin = team.headers["admin"]
    project = f"/api/v1/projects/{team.project}"
    for value in ("3_0", "-1", "\u0661", "1234567890", '"1" "2"'):
        status, body = await send(client, "PATCH", project, admin, {"name": "X"},
                                  If_Match=value)
        assert (status, body["code"]) == (400, "invalid_if_match"), value
    for value in ('"1"', "W/\"1\"", "1", "*"):
        status, body = await send(client, "GET", project, admin)
        status, body = await send(client, "PATCH", project, admin, {"name": "Y"},
                                  If_Match=value if value == "*" else
                                  value.replace("1", str(body["version"])))
        assert status == 200, (value, body)
    for key in ("no\u00a0break", "soft\u00adhyphen", "zero\u200bwidth", "k" * 256):
        status, body = await send(client, "POST", "/api/v1/clients", admin, {"name": "Acme"},
                                  Idempotency_Key=key)
        assert (status, body["code"]) == (400, "invalid_idempotency_key"), key
    for key in ("f47ac10b-58cc-4372-a567-0e02b2c3d479", "k-500 levels", "caf\u00e9"):
        status, _ = await send(client, "POST", "/api/v1/clients", admin, {"name": key},
                               Idempotency_Key=key)
        assert status == 201, key


async def test_audit_times_are_dates_not_numbers(client: TestClient[Any, Any],
                                                 world: World) -> None:
    team = await make_team(world, client)
    admin = team.headers["admin"]
    for query in ("to=0.5", "from=1700000000"):
        status, body = await send(client, "GET", f"/api/v1/audit?{query}", admin)
        assert status == 422 and body["errors"][0]["field"] in ("to", "from"), query
    for query in ("to=2026-01-31", "from=2026-01-31T09:00:00Z", "to=2026-01-31%2009:00"):
        status, body = await send(client, "GET", f"/api/v1/audit?{query}", admin)
        assert status == 200, (query, body)
