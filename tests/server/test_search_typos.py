"""GET /search tolerates swapped letters and one-letter typos in every searchable field,
and the tolerance never reaches records the caller may not open."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from db.pool import system_transaction
from db.queries.spelling import correctable, neighbours, one_edit_away, widened_tsquery
from tests.conftest import World
from tests.server.test_search import Data, _firm, _insert, _search

# (query, record key): the record holds the word spelled right, in the named field.
TYPOS = [
    ("marbel", "marble_spec"),       # swapped letters, spec description (its name)
    ("Carara marbel", "marble_spec"),  # two misspelled words, both required
    ("millwrok", "desk"),            # swapped letters, scope item name
    ("Elecrtical", "electric_task"),  # swapped letters, task category
    ("Electrcal", "electric_task"),  # a letter missing, task category
    ("Kitchenette", "kitchen_item"),  # a whole word: the whole-word tier still rules
    ("Joinry", "kitchen_item"),      # scope item category, a letter missing
    ("Elevaiton", "elevation"),      # swapped letters, drawing type
    ("Elevatoin", "elevation"),
    ("Elevetion", "elevation"),      # a wrong letter, drawing type
    ("Artemsi", "marble_spec"),      # swapped letters, supplier
    ("Artmis Stone", "marble_spec"),  # a letter missing, supplier
]


async def _typo_firm(pool: asyncpg.Pool, world: World) -> Data:
    firm = await _firm(pool, world)
    ids = firm["ids"]
    org, p1, p2 = ids["org"], ids["p1"], ids["p2"]
    async with system_transaction(pool) as conn:
        group = await _insert(conn, "scope_groups", org_id=org, project_id=p1, name="Joinery")
        ids["kitchen_item"] = await _insert(conn, "scope_items", org_id=org, project_id=p1,
                                            scope_group_id=group, code="SCOPE077",
                                            name="Kitchenette cabinets", category="Joinery")
        ids["electric_task"] = await _insert(conn, "tasks", org_id=org, project_id=p1,
                                             name="Pull cables", category="Electrical")
        ids["elevation"] = await _insert(conn, "shop_drawings", org_id=org, project_id=p1,
                                         drawing_number="AK-EL-004", title="North wall",
                                         drawing_type="Elevation")
        ids["marble_spec"] = await _insert(conn, "material_specs", org_id=org, project_id=p1,
                                           code="SPEC009", description="Carrara marble slab",
                                           supplier_name="Artemis Stone")
        ids["label"] = await _insert(conn, "tasks", org_id=org, project_id=p1,
                                     name="Label printer")
        # The same words in the project the designer is not a member of.
        ids["hidden_elevation"] = await _insert(
            conn, "shop_drawings", org_id=org, project_id=p2, drawing_number="LT-EL-001",
            title="South wall", drawing_type="Elevation")
        ids["hidden_marble"] = await _insert(
            conn, "material_specs", org_id=org, project_id=p2, code="SPEC010",
            description="Carrara marble slab", supplier_name="Artemis Stone")
    return firm


@pytest.fixture
async def typo_firm(client: TestClient[Any, Any], pool: asyncpg.Pool, world: World) -> Data:
    return await _typo_firm(pool, world)


async def test_swapped_letters_and_typos_in_every_field(
        client: TestClient[Any, Any], app: web.Application, world: World,
        typo_firm: Data) -> None:
    ids, designer = typo_firm["ids"], typo_firm["users"]["designer"]
    for q, key in TYPOS:
        body = await _search(client, app, world, designer, q=q)
        found = [h["id"] for h in body["data"]]
        assert str(ids[key]) in found, (q, body)
        # RLS: the designer is no member of P2, whose records hold the same words
        assert not {str(ids["hidden_elevation"]), str(ids["hidden_marble"])} & set(found), q
    admin = typo_firm["users"]["admin"]
    found = {h["id"] for h in (await _search(client, app, world, admin, q="Elevaiton"))["data"]}
    assert {str(ids["elevation"]), str(ids["hidden_elevation"])} <= found


async def test_near_hits_rank_below_whole_words_and_are_highlighted(
        client: TestClient[Any, Any], app: web.Application, world: World,
        typo_firm: Data) -> None:
    ids, admin = typo_firm["ids"], typo_firm["users"]["admin"]
    body = await _search(client, app, world, admin, q="marbel", types="material_spec")
    hit = next(h for h in body["data"] if h["id"] == str(ids["marble_spec"]))
    assert 0 < hit["score"] < 1
    assert "<mark>marble</mark>" in hit["snippet"]
    exact = await _search(client, app, world, admin, q="marble", types="material_spec")
    assert all(h["score"] >= 1 for h in exact["data"]) and exact["data"]


async def test_two_edits_away_is_not_a_hit(client: TestClient[Any, Any], app: web.Application,
                                           world: World, typo_firm: Data) -> None:
    ids, admin = typo_firm["ids"], typo_firm["users"]["admin"]
    # 'marbel' -> 'label' takes two edits; 'mrabel' (two swaps) is no near hit of 'marble'
    for q in ("marbel", "mrabel"):
        found = {h["id"] for h in (await _search(client, app, world, admin, q=q))["data"]}
        assert str(ids["label"]) not in found, q
    found = {h["id"] for h in (await _search(client, app, world, admin, q="mrabel"))["data"]}
    assert str(ids["marble_spec"]) not in found


async def test_other_org_and_client_user_see_no_near_hits(
        client: TestClient[Any, Any], app: web.Application, world: World,
        typo_firm: Data) -> None:
    ids, users = typo_firm["ids"], typo_firm["users"]
    stranger = await world.user(await world.org(), "admin")
    for q, _ in TYPOS:
        assert (await _search(client, app, world, stranger, q=q))["data"] == [], q
    # the outsider is a designer of the org without any project
    for q, _ in TYPOS:
        assert (await _search(client, app, world, users["outsider"], q=q))["data"] == [], q
    # the client user sees P1 (its client's project) but never P2
    found = {h["id"] for h in (await _search(client, app, world, users["client"],
                                             q="Elevaiton"))["data"]}
    assert found == {str(ids["elevation"])}


def test_one_edit_away_counts_a_swap_as_one_edit() -> None:
    near = one_edit_away("marbel")
    assert {"marble", "marbl", "marbels", "marvel", "amrbel"} <= near
    assert "marbel" not in near and "label" not in near and "mrable" not in near
    assert len(one_edit_away("millwork")) < 500


def test_widened_tsquery() -> None:
    known = {"carrara", "marble", "slab"}
    text = widened_tsquery("carara marbel 60x120", known)
    assert text == "(carara | carrara) & (marbel | marble) & '60x120'"
    assert widened_tsquery("marble slab", known) is None  # nothing to correct
    assert widened_tsquery("zzzz", known) is None
    assert correctable("tile") == ["tile"] and correctable("ab 12") == []
    assert correctable("x" * 33) == []
    for syntax in ('"reception desk"', "walnut -oak", "walnut or oak"):
        assert correctable(syntax) == [] and widened_tsquery(syntax, known) is None
    assert correctable("alpha bravo charlie delta echoes foxtrot") == [
        "alpha", "bravo", "charlie", "delta"]
    assert "marble" in neighbours(["marbel"]) and neighbours([]) == []
