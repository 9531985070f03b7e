"""GET /search: ranking, typos, codes, accent folding, permissions, paging, cache, bad input."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from db.committed import Change
from db.pool import system_transaction
from server.cache.keys import search_generation_key
from server.cache.store import invalidate
from server.keys import CACHE
from server.routes.search import render_snippet, search_position
from tests.conftest import World
from tests.waiting import eventually

URL = "/api/v1/search"
Data = dict[str, Any]


async def _insert(conn: asyncpg.Connection, table: str, **values: Any) -> uuid.UUID:
    cols = ", ".join(values)
    marks = ", ".join(f"${i + 1}" for i in range(len(values)))
    # The table and column names are the tests' own.
    sql = f"INSERT INTO {table} ({cols}) VALUES ({marks}) RETURNING id"  # noqa: S608
    return uuid.UUID(str(await conn.fetchval(sql, *values.values())))


async def _firm(pool: asyncpg.Pool, world: World) -> Data:
    """Org A: two clients, two projects (member sees P1 only), searchable records."""
    org = await world.org()
    client1 = await world.client_record(org, "Yılmaz İnşaat")
    client2 = await world.client_record(org, "Other Holding")
    users = {role: await world.user(org, role) for role in ("admin", "designer")}
    users["outsider"] = await world.user(org, "designer")
    users["client"] = await world.user(org, "client", client_id=client1)
    p1 = await world.project(org, members=[users["designer"]], client_id=client1,
                             name="Şişli Office")
    p2 = await world.project(org, client_id=client2, name="Levent Tower")
    ids: Data = {"org": org, "p1": p1, "p2": p2, "client1": client1, "client2": client2}
    async with system_transaction(pool) as conn:
        group = await _insert(conn, "scope_groups", org_id=org, project_id=p1, name="Millwork")
        ids["desk"] = await _insert(conn, "scope_items", org_id=org, project_id=p1,
                                    scope_group_id=group, code="SCOPE012",
                                    name="Millwork reception desk")
        ids["walnut_task"] = await _insert(conn, "tasks", org_id=org, project_id=p1,
                                           name="Walnut")
        ids["mention_task"] = await _insert(
            conn, "tasks", org_id=org, project_id=p1, name="Install cabinets",
            description="Cabinets are finished in walnut veneer, see the sample board.")
        ids["hidden_task"] = await _insert(conn, "tasks", org_id=org, project_id=p2,
                                           name="Walnut panelling in the lobby")
        ids["drawing"] = await _insert(conn, "shop_drawings", org_id=org, project_id=p1,
                                       drawing_number="AK-MM-001", title="Reception counter",
                                       room="Lobby")
        ids["spec"] = await _insert(conn, "material_specs", org_id=org, project_id=p1,
                                    code="SPEC001", description="Porcelain tile 60x120",
                                    supplier_name="Yapı Merkezi", manufacturer="Decospan")
        ids["comment"] = await _insert(conn, "comments", org_id=org, project_id=p1,
                                       entity_type="task", entity_id=ids["walnut_task"],
                                       user_id=users["admin"]["id"],
                                       body="Ask Yilmaz about the <b>walnut</b> & oak samples")
    return {"ids": ids, "users": users}


@pytest.fixture
async def firm(client: TestClient[Any, Any], pool: asyncpg.Pool, world: World) -> Data:
    return await _firm(pool, world)


async def _search(client: TestClient[Any, Any], app: web.Application, world: World,
                  user: dict[str, Any], **params: Any) -> Any:
    resp = await client.get(URL, params=params, headers=await world.headers(app, user))
    assert resp.status == 200, await resp.text()
    return await resp.json()


def _hits(body: Any) -> list[tuple[str, str]]:
    return [(h["type"], h["id"]) for h in body["data"]]


async def test_exact_name_beats_description_mention(client: TestClient[Any, Any],
                                                    app: web.Application, world: World,
                                                    firm: Data) -> None:
    ids = firm["ids"]
    body = await _search(client, app, world, firm["users"]["admin"], q="walnut", types="task")
    order = [h["id"] for h in body["data"]]
    assert order[0] == str(ids["walnut_task"])
    assert str(ids["mention_task"]) in order
    hit = body["data"][0]
    assert set(hit) == {"type", "id", "title", "snippet", "project_id", "score"}
    assert hit["project_id"] == str(ids["p1"]) and hit["title"] == "Walnut"
    assert body["data"][0]["score"] > body["data"][-1]["score"]
    mention = next(h for h in body["data"] if h["id"] == str(ids["mention_task"]))
    assert "<mark>walnut</mark> veneer" in mention["snippet"]


FINDS = [
    ("milwork", "desk"),            # typo inside a longer name
    ("Millwork reception desk", "desk"),
    ("AK-MM-01", "drawing"),        # partial drawing number
    ("AK-MM-001", "drawing"),
    ("SCOPE01", "desk"),            # partial scope code
    ("Yapi Merkzi", "spec"),        # misspelled supplier, accent folded
    ("Decospn", "spec"),            # misspelled manufacturer
    ("yilmaz", "client1"),          # ı folded: ASCII query finds Turkish text
    ("YILMAZ", "client1"),
    ("sisli", "p1"),                # ş folded
    ("ŞİŞLİ", "p1"),                # dotted capital İ
    ("Yılmaz", "comment"),          # Turkish query finds ASCII text
    ("lobby", "drawing"),           # room field
]


async def test_typos_codes_and_accents(client: TestClient[Any, Any], app: web.Application,
                                       world: World, firm: Data) -> None:
    """One setup for many queries (each parametrised case would rebuild the firm)."""
    for q, key in FINDS:
        body = await _search(client, app, world, firm["users"]["admin"], q=q)
        assert str(firm["ids"][key]) in [h["id"] for h in body["data"]], (q, body)


async def test_code_match_ranks_first(client: TestClient[Any, Any], app: web.Application,
                                      world: World, firm: Data) -> None:
    body = await _search(client, app, world, firm["users"]["admin"], q="AK-MM-01")
    assert body["data"][0]["id"] == str(firm["ids"]["drawing"])
    assert body["data"][0]["title"] == "AK-MM-001 Reception counter"


async def test_snippet_is_escaped_and_highlighted(client: TestClient[Any, Any],
                                                  app: web.Application, world: World,
                                                  firm: Data) -> None:
    body = await _search(client, app, world, firm["users"]["admin"], q="oak",
                         types="comment")
    assert len(body["data"]) == 1
    snippet = body["data"][0]["snippet"]
    assert "<mark>oak</mark>" in snippet and "&amp;" in snippet and "<b>" not in snippet
    assert render_snippet("a < b \ue000c\ue001") == "a &lt; b <mark>c</mark>"


async def test_types_and_project_filter(client: TestClient[Any, Any], app: web.Application,
                                        world: World, firm: Data) -> None:
    admin, ids = firm["users"]["admin"], firm["ids"]
    body = await _search(client, app, world, admin, q="walnut", types="task, comment")
    assert {h["type"] for h in body["data"]} == {"task", "comment"}
    body = await _search(client, app, world, admin, q="walnut", project_id=str(ids["p2"]))
    assert _hits(body) == [("task", str(ids["hidden_task"]))]


async def test_project_members_only(client: TestClient[Any, Any], app: web.Application,
                                    world: World, firm: Data) -> None:
    ids, users = firm["ids"], firm["users"]
    seen_by = {}
    for who in ("admin", "designer", "outsider"):
        body = await _search(client, app, world, users[who], q="walnut", limit=50)
        seen_by[who] = {h["id"] for h in body["data"]}
    assert str(ids["hidden_task"]) in seen_by["admin"]
    assert str(ids["walnut_task"]) in seen_by["designer"]
    assert str(ids["hidden_task"]) not in seen_by["designer"]
    assert seen_by["outsider"] == set()
    resp = await client.get(URL, params={"q": "walnut", "project_id": str(ids["p2"])},
                            headers=await world.headers(app, users["designer"]))
    assert resp.status == 404


async def test_client_user_sees_only_its_client(client: TestClient[Any, Any],
                                                app: web.Application, world: World,
                                                firm: Data) -> None:
    ids = firm["ids"]
    user = firm["users"]["client"]
    seen = {h["id"] for h in (await _search(client, app, world, user, q="walnut"))["data"]}
    assert str(ids["walnut_task"]) in seen and str(ids["hidden_task"]) not in seen
    body = await _search(client, app, world, user, q="yilmaz or holding or levent or sisli",
                         types="client,project")
    assert set(_hits(body)) == {("client", str(ids["client1"])), ("project", str(ids["p1"]))}


async def test_other_org_sees_nothing(client: TestClient[Any, Any], app: web.Application,
                                      world: World, firm: Data) -> None:
    stranger = await world.user(await world.org(), "admin")
    for q in ("walnut", "milwork", "AK-MM-001", "yilmaz", "sisli", "SCOPE012"):
        assert (await _search(client, app, world, stranger, q=q))["data"] == []


async def test_pages_walk_every_hit_once(client: TestClient[Any, Any], app: web.Application,
                                         world: World, firm: Data, pool: asyncpg.Pool) -> None:
    ids = firm["ids"]
    async with system_transaction(pool) as conn:
        for n in range(7):
            await _insert(conn, "tasks", org_id=ids["org"], project_id=ids["p1"],
                          name=f"Paint wall {n}", description="paint" if n % 2 else None)
    admin = firm["users"]["admin"]
    seen: list[str] = []
    scores: list[float] = []
    cursor = None
    for _ in range(10):
        params = {"q": "paint", "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = await _search(client, app, world, admin, **params)
        seen += [h["id"] for h in body["data"]]
        scores += [h["score"] for h in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7 == len(set(seen))
    assert scores == sorted(scores, reverse=True)
    resp = await client.get(URL, params={"q": "other", "cursor": cursor or "x"},
                            headers=await world.headers(app, admin))
    assert resp.status == 422


async def test_cursor_bound_to_its_search() -> None:
    from db.cursor_codec import encode_search_cursor
    from server.errors import Invalid

    cursor = encode_search_cursor(__import__("decimal").Decimal("1.5"), "task", uuid.uuid4(), "abc")
    assert search_position(cursor, "abc")[1] == "task"
    for bad, print_ in ((cursor, "other"), ("!!!", "abc"), ("bnVsbA", "abc")):
        with pytest.raises(Invalid):
            search_position(bad, print_)


async def test_cache_per_scope_and_generation(client: TestClient[Any, Any],
                                              app: web.Application, world: World, firm: Data,
                                              pool: asyncpg.Pool) -> None:
    ids, users = firm["ids"], firm["users"]
    assert (await _search(client, app, world, users["admin"], q="zebra"))["data"] == []
    assert (await _search(client, app, world, users["designer"], q="zebra"))["data"] == []
    # A raw-SQL write: the change leader sees it in the audit log and bumps the org's
    # search generation, so no cached page outlives the change event.
    async with system_transaction(pool) as conn:
        await _insert(conn, "tasks", org_id=ids["org"], project_id=ids["p1"], name="Zebra")
    async def found() -> list[Any]:
        return list((await _search(client, app, world, users["admin"], q="zebra"))["data"])

    await eventually(found, limit=5, interval=0.1)
    assert len((await _search(client, app, world, users["admin"], q="zebra"))["data"]) == 1
    assert len((await _search(client, app, world, users["designer"], q="zebra"))["data"]) == 1
    assert (await _search(client, app, world, users["outsider"], q="zebra"))["data"] == []
    # What writers and the change leader run: a change to a searchable row bumps the
    # generation, so the org's cached pages are unreachable and the search runs afresh.
    before = int(await app[CACHE].get(search_generation_key(ids["org"])) or 0)
    await invalidate(app[CACHE], [Change("tasks", None, ids["p1"], ids["org"])])
    assert await app[CACHE].get(search_generation_key(ids["org"])) == before + 1
    assert len((await _search(client, app, world, users["admin"], q="zebra"))["data"]) == 1


# Operators, quotes, wildcards, SQL, emoji, invisible and private-use characters: the query
# is a bound parameter read by websearch_to_tsquery, which takes any text, and by trigram
# matching, so each of these is a search answered 200 (with or without hits). A NUL inside
# the text is a space like every control character.
NASTY = [
    '"', "'", '"unterminated', "!:*&|()<->", "a & | b", "!!!", "<->", "(((", "-", "-walnut",
    "walnut -walnut", "or", "\\", "%", "_", "%_%", "'; DROP TABLE tasks; --", "a\x00b",
    "😀", "🏗️ walnut 🔨", "؟", "\ue000", "Yılmaz:*", "walnut:A",
    "x" * 1000, "walnut " * 140, "a b c d e f g h i j k l m n o p q r s t u v w x y z",
    "AK-MM-01" * 100,
]
# Control characters become spaces and the text is trimmed: nothing is left to search for.
# Invisible format characters (zero-width space, a bidi override) are refused outright, as
# in every one-line text field.
BLANK = ["\x00", "\x01\x1f", " \x7f\t", "\u200b", "walnut\u202e"]


async def test_nasty_queries_are_searches(client: TestClient[Any, Any], app: web.Application,
                                          world: World, firm: Data) -> None:
    headers = await world.headers(app, firm["users"]["designer"])
    for q in NASTY:
        resp = await client.get(URL, params={"q": q}, headers=headers)
        assert resp.status == 200, (q, await resp.text())
        assert isinstance((await resp.json())["data"], list)


async def test_queries_blank_once_control_characters_go_are_422(
    client: TestClient[Any, Any], app: web.Application, world: World, firm: Data,
) -> None:
    headers = await world.headers(app, firm["users"]["designer"])
    for q in BLANK:
        resp = await client.get(URL, params={"q": q}, headers=headers)
        assert resp.status == 422, (q, await resp.text())
        assert resp.content_type == "application/problem+json"
        assert [e["field"] for e in (await resp.json())["errors"]] == ["q"]


INVALID: list[dict[str, str]] = [
    {}, {"q": ""}, {"q": "   "}, {"q": "\x00 \x01"}, {"q": "x" * 1001},
    {"q": "walnut", "types": "task,invoice"}, {"q": "walnut", "types": "Task"},
    {"q": "walnut", "limit": "0"}, {"q": "walnut", "limit": "51"},
    {"q": "walnut", "limit": "many"}, {"q": "walnut", "project_id": "nope"},
    {"q": "walnut", "cursor": "%%%"}, {"q": "walnut", "colour": "red"},
]


async def test_invalid_parameters_are_422(client: TestClient[Any, Any], app: web.Application,
                                          world: World, firm: Data) -> None:
    headers = await world.headers(app, firm["users"]["admin"])
    for params in INVALID:
        resp = await client.get(URL, params=params, headers=headers)
        assert resp.status == 422, (params, await resp.text())
        assert resp.content_type == "application/problem+json"


async def test_needs_a_token(client: TestClient[Any, Any]) -> None:
    assert (await client.get(URL, params={"q": "walnut"})).status == 401


@pytest.fixture
async def wide_client(app: web.Application, pool: asyncpg.Pool
                      ) -> AsyncIterator[TestClient[Any, Any]]:
    """A test server that accepts long request lines, to reach the route's own checks."""
    server = TestServer(app)
    await server.start_server(max_line_size=300_000)
    test_client: TestClient[Any, Any] = TestClient(server)
    await test_client.start_server()
    yield test_client
    await test_client.close()


async def test_ten_kilobyte_queries(wide_client: TestClient[Any, Any], app: web.Application,
                                    pool: asyncpg.Pool, world: World) -> None:
    user = await world.user(await world.org(), "admin")
    headers = await world.headers(app, user)
    for q in ("x" * 10_000, "ş" * 10_000, "😀" * 10_000, "\x00" * 10_000):
        resp = await wide_client.get(URL, params={"q": q}, headers=headers)
        assert resp.status in (414, 422), q[:1]  # URL limit (8 KiB) or q limit
        assert resp.content_type == "application/problem+json"


async def test_ten_kilobytes_on_a_default_server(client: TestClient[Any, Any],
                                                 app: web.Application, world: World) -> None:
    """With aiohttp's default 8 KiB request line the answer comes before the app: still no 5xx."""
    user = await world.user(await world.org(), "admin")
    resp = await client.get(URL, params={"q": "x" * 10_000},
                            headers=await world.headers(app, user))
    assert 400 <= resp.status < 500
