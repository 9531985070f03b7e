"""What PostgreSQL refuses comes back in our words: never its message, detail or names."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, make_mocked_request

from server.errors import error_middleware
from tests.conftest import World
from tests.server.project_team import make_team, send

# Words of PostgreSQL's and asyncpg's messages that must never reach a client.
LEAKS = ("violates", "constraint", "DETAIL", "relation", "out of range for type",
         "invalid input syntax", "Key (", "ck_", "fk_", "uq_", "numeric field overflow",
         "value too long for type", "query argument", "invalid byte sequence",
         "Unicode escape", "datetime.datetime", "int32", "probe_", "character varying")


def assert_our_words(status: int, body: Any, *extra_leaks: str) -> None:
    assert 400 <= status < 500, body
    said = [body["title"], body["detail"], *(v for e in body["errors"] for v in e.values())]
    text = "\n".join(said)
    for leak in (*LEAKS, *extra_leaks):
        assert leak.lower() not in text.lower(), (leak, body)


async def test_refusals_through_the_api_are_in_our_words(client: TestClient[Any, Any],
                                                         world: World) -> None:
    team = await make_team(world, client)
    admin, project = team.headers["admin"], str(team.project)
    _, task = await send(client, "POST", "/api/v1/tasks", admin,
                         {"project_id": project, "name": "t", "start_date": "2024-05-05"})
    _, other = await send(client, "POST", "/api/v1/projects", admin,
                          {"name": "p", "type": "fit_out", "start_date": "2024-05-05"})
    _, drawing = await send(client, "POST", "/api/v1/shop-drawings", admin,
                            {"project_id": project, "drawing_number": "A-1", "title": "t"})
    cases: list[tuple[str, str, Any, int, str]] = [
        # a CHECK constraint (due_date >= start_date) against the stored start date
        ("PATCH", f"/api/v1/tasks/{task['id']}", {"due_date": "2024-05-01"}, 422, "due_date"),
        ("PATCH", f"/api/v1/projects/{other['id']}", {"end_date": "2024-05-01"}, 422,
         "end_date"),
        # a unique key
        ("POST", "/api/v1/shop-drawings",
         {"project_id": project, "drawing_number": "A-1", "title": "again"}, 409,
         "drawing_number"),
        # text PostgreSQL cannot store: U+0000 in text (a control character, refused at
        # the edge naming its field) and in jsonb (refused by the database)
        ("POST", "/api/v1/projects", {"name": "p\u0000", "type": "fit_out"}, 422, "name"),
        ("POST", "/api/v1/material-specs",
         {"project_id": project, "description": "x", "specification": {"a": "\u0000"}},
         422, "body"),
        ("POST", "/api/v1/clients", {"name": "x", "notes": "a\u0000b"}, 422, "notes"),
        # a time whose UTC equivalent falls off the calendar
        ("GET", "/api/v1/audit?from=0001-01-01T00:00:00%2B14:00", None, 422, "from"),
        ("GET", "/api/v1/audit?to=9999-12-31T23:59:59-14:00", None, 422, "to"),
    ]
    for method, path, body, expected, field in cases:
        status, problem = await send(client, method, path, admin, body)
        assert status == expected, (path, problem)
        assert_our_words(status, problem, "0001-01-01")
        assert [e["field"] for e in problem["errors"]] == [field], (path, problem)
    assert drawing["drawing_number"] == "A-1"


async def _refusals(conn: asyncpg.Connection) -> list[asyncpg.PostgresError]:
    """One real error of each kind, provoked on a scratch table of this connection."""
    await conn.execute("""
        CREATE TEMP TABLE probe_parent (id int PRIMARY KEY);
        CREATE TEMP TABLE probe_rows (
            id int PRIMARY KEY, parent int REFERENCES probe_parent (id),
            cost numeric(14, 2), code varchar(3), day date, name text NOT NULL,
            CONSTRAINT ck_probe_rows_cost CHECK (cost >= 0));
        INSERT INTO probe_parent VALUES (1);
        INSERT INTO probe_rows (id, parent, name) VALUES (1, 1, 'x');""")
    statements: list[tuple[str, tuple[Any, ...]]] = [
        ("INSERT INTO probe_rows (id, name) VALUES (1, 'dup')", ()),  # unique
        ("INSERT INTO probe_rows (id, parent, name) VALUES (2, 9, 'x')", ()),  # foreign key
        ("DELETE FROM probe_parent", ()),  # still referenced
        ("INSERT INTO probe_rows (id, cost, name) VALUES (3, -1, 'x')", ()),  # check
        ("INSERT INTO probe_rows (id) VALUES (4)", ()),  # not null
        ("INSERT INTO probe_rows (id, cost, name) VALUES (5, $1, 'x')",
         (decimal.Decimal("1e20"),)),  # numeric out of range
        ("INSERT INTO probe_rows (id, code, name) VALUES (6, $1, 'x')", ("toolong",)),
        ("INSERT INTO probe_rows (id, day, name) VALUES (7, '5874897-12-31'::date + 1, 'x')",
         ()),  # date out of range
        ("SELECT 'not-a-uuid'::uuid", ()),  # invalid text representation
        ("SELECT 'x'::date", ()),  # invalid date
        ("SELECT $1::text", ("nul\x00",)),  # a character that cannot be stored
        ("SELECT '{\"a\": \"\\u0000\"}'::jsonb ->> 'a'", ()),
        ("SELECT $1::int4", (2 ** 40,)),  # refused by the driver before it is sent
        ("SELECT $1::timestamptz",
         (dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=14))),)),
    ]
    errors: list[asyncpg.PostgresError] = []
    for sql, args in statements:
        try:
            async with conn.transaction():
                await conn.fetch(sql, *args)
        except (asyncpg.PostgresError, asyncpg.DataError) as exc:
            errors.append(exc)
        else:
            raise AssertionError(f"no error from {sql}")
    await conn.execute("DROP TABLE probe_rows, probe_parent")
    return errors


async def test_every_kind_of_refusal_is_rendered_in_our_words(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        errors = await _refusals(conn)
    for exc in errors:
        async def handler(request: web.Request, exc: Exception = exc) -> web.Response:
            raise exc

        response = await error_middleware(make_mocked_request("POST", "/"), handler)
        assert isinstance(response, web.Response) and response.text is not None
        body = json.loads(response.text)
        assert_our_words(response.status, body, str(exc).split("\n")[0][:40])
        detail = getattr(exc, "detail", None)
        if detail:
            assert detail not in response.text
        assert body["errors"] or body["code"] == "still_referenced", body
        for error in body["errors"]:
            assert error["field"] in ("body", "id", "parent", "cost", "name"), (exc, body)


@pytest.mark.parametrize(("expected_status", "expected_field"), [(409, "id"), (422, "parent")])
async def test_key_fields_come_from_the_key(pool: asyncpg.Pool, expected_status: int,
                                            expected_field: str,
                                            ) -> None:
    async with pool.acquire() as conn:
        errors = await _refusals(conn)
    wanted = errors[0] if expected_status == 409 else errors[1]
    response = await error_middleware(make_mocked_request("POST", "/"),
                                      _raiser(wanted))
    assert isinstance(response, web.Response) and response.text is not None
    body = json.loads(response.text)
    assert response.status == expected_status
    assert body["errors"] == [{"field": expected_field,
                               "message": "already exists" if expected_status == 409
                               else "does not exist"}]


def _raiser(exc: Exception) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        raise exc

    return handler


async def test_a_body_that_is_not_json_is_summarised(client: TestClient[Any, Any],
                                                     world: World) -> None:
    team = await make_team(world, client)
    for raw, detail in ((b'{"name": x}', "The body is not valid JSON (line 1, column 10)"),
                        (b"{\"name\": \"\xc3\"}", "The body is not UTF-8 text")):
        response = await client.post("/api/v1/clients", data=raw, headers={
            **team.headers["admin"], "Content-Type": "application/json"})
        problem = await response.json()
        assert response.status == 400 and problem["code"] == "invalid_json"
        assert problem["detail"] == detail
