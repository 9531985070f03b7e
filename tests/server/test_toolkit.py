"""The CRUD toolkit's pure parts: the cursor codec's wire formats (pinned: clients hold
cursors), path ids, PATCH fields, list filters and the shared field types."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Annotated, Any, ClassVar

import pydantic
import pytest
from aiohttp.test_utils import make_mocked_request

from db.cursor_codec import (
    decode_audit_cursor,
    decode_feed_cursor,
    decode_page_cursor,
    decode_search_cursor,
    encode_audit_cursor,
    encode_feed_cursor,
    encode_page_cursor,
    encode_search_cursor,
)
from db.queries.rows import equal_to, set_clause, where
from server.errors import Invalid, NotFound
from server.fields import MediumText, Name, OneOf, ShortText
from server.records import noun, path_id, provided
from server.rest import PageParams, SortKey, keyset

RECORD = "11111111-2222-3333-4444-555555555555"


def _b64(raw: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


# --- wire formats: the exact strings issued before the codec was shared --------------------

def test_page_cursors_keep_their_wire_format() -> None:
    at = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)
    assert encode_page_cursor("created_at", True, at, uuid.UUID(int=1)) == (
        "WyJjcmVhdGVkX2F0IiwgdHJ1ZSwgIjIwMjYtMDEtMDJUMDM6MDQ6MDUuNjc4OTAxKzAwOjAwIiwgIjAw"
        "MDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMSJd")
    assert encode_page_cursor("due_date", False, dt.date(2026, 5, 1), RECORD) == (
        "WyJkdWVfZGF0ZSIsIGZhbHNlLCAiMjAyNi0wNS0wMSIsICIxMTExMTExMS0yMjIyLTMzMzMtNDQ0NC01"
        "NTU1NTU1NTU1NTUiXQ")
    assert encode_page_cursor("name", False, 'Şişli "ofis"', RECORD) == (
        "WyJuYW1lIiwgZmFsc2UsICJcdTAxNWVpXHUwMTVmbGkgXCJvZmlzXCIiLCAiMTExMTExMTEtMjIyMi0z"
        "MzMzLTQ0NDQtNTU1NTU1NTU1NTU1Il0")
    assert encode_page_cursor("priority", True, 3, RECORD) == (
        "WyJwcmlvcml0eSIsIHRydWUsICIzIiwgIjExMTExMTExLTIyMjItMzMzMy00NDQ0LTU1NTU1NTU1NTU1NSJd")


def test_search_audit_and_feed_cursors_keep_their_wire_format() -> None:
    assert encode_search_cursor(Decimal("0.4375"), "task", uuid.UUID(RECORD),
                                "0123456789abcdef") == (
        "WyIwLjQzNzUiLCAidGFzayIsICIxMTExMTExMS0yMjIyLTMzMzMtNDQ0NC01NTU1NTU1NTU1NTUiLCAiMDEy"
        "MzQ1Njc4OWFiY2RlZiJd")
    assert encode_audit_cursor(True, 9876543210) == "WyJhdWRpdCIsIHRydWUsIDk4NzY1NDMyMTBd"
    assert encode_audit_cursor(False, 1) == "WyJhdWRpdCIsIGZhbHNlLCAxXQ"
    assert encode_feed_cursor((123456789012, 77)) == "YzE6MTIzNDU2Nzg5MDEyOjc3"
    assert encode_feed_cursor((0, 0)) == "YzE6MDow"


def test_cursors_round_trip() -> None:
    at = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    assert decode_page_cursor(encode_page_cursor("created_at", True, at, RECORD)) == (
        "created_at", True, at.isoformat(), RECORD)
    padded = encode_page_cursor("name", False, "x", RECORD) + "=="
    assert decode_page_cursor(padded)[2] == "x"
    assert decode_search_cursor(encode_search_cursor(Decimal("1.5"), "task", uuid.UUID(RECORD),
                                                     "fp")) == (
        Decimal("1.5"), "task", uuid.UUID(RECORD), "fp")
    assert decode_audit_cursor(encode_audit_cursor(True, 42), True) == 42
    assert decode_feed_cursor(encode_feed_cursor((5, 42))) == (5, 42)


@pytest.mark.parametrize("bad", [
    "", "!!!", "bnVsbA", _b64(12), _b64(["f", True, "v"]), _b64(["f", True, "v", "no-uuid"]),
    _b64(["f", True, "v", RECORD, 5]), _b64(["f", True, ["v"], RECORD]),
    # a record id that is not text: once a 500, now refused like any other
    _b64(["f", True, "v", 5]), _b64(["f", True, "v", None]), _b64(["f", True, "v", [RECORD]]),
])
def test_page_cursor_refuses_what_it_did_not_issue(bad: str) -> None:
    with pytest.raises(ValueError):
        decode_page_cursor(bad)


@pytest.mark.parametrize("bad", [
    _b64(["1.5", "task", RECORD]), _b64(["NaN", "task", RECORD, "fp"]),
    _b64(["Infinity", "task", RECORD, "fp"]), _b64(["x", "task", RECORD, "fp"]),
    _b64([[1], "task", RECORD, "fp"]), _b64(["1.5", "task", 7, "fp"]), "!!!",
])
def test_search_cursor_refuses_what_it_did_not_issue(bad: str) -> None:
    with pytest.raises(ValueError):
        decode_search_cursor(bad)


def test_audit_cursor_is_bound_to_its_direction() -> None:
    cursor = encode_audit_cursor(True, 7)
    with pytest.raises(ValueError):
        decode_audit_cursor(cursor, False)
    for bad in (_b64(["audit", True, "7"]), _b64(["page", True, 7]), _b64(["audit", True]),
                "bnVsbA"):
        with pytest.raises(ValueError):
            decode_audit_cursor(bad, True)


def test_keyset_answers_a_bad_cursor_with_a_422() -> None:
    sortable = {"name": SortKey("name", "text")}
    for bad in (_b64(["name", False, "v", 5]), "bnVsbA",
                encode_page_cursor("other", False, "v", RECORD)):
        with pytest.raises(Invalid) as caught:
            keyset(PageParams(cursor=bad), sortable, "name")
        assert caught.value.errors[0]["field"] == "cursor"
    page = keyset(PageParams(cursor=encode_page_cursor("name", True, "v", RECORD), sort="-name"),
                  sortable, "name")
    assert page.after == ("v", RECORD) and page.descending


# --- request side ----------------------------------------------------------------------------

def test_path_id_is_a_uuid_or_a_404() -> None:
    request = make_mocked_request("GET", f"/api/v1/tasks/{RECORD}", match_info={"id": RECORD})
    assert path_id(request) == uuid.UUID(RECORD)
    for raw in ("nope", "", "1" * 33):
        request = make_mocked_request("GET", "/x", match_info={"id": raw})
        with pytest.raises(NotFound):
            path_id(request)
    with pytest.raises(NotFound):
        path_id(make_mocked_request("GET", "/x", match_info={}), "user_id")


class _Patch(pydantic.BaseModel):
    NOT_NULL: ClassVar[tuple[str, ...]] = ("name", "status")
    name: str | None = None
    status: str | None = None
    notes: str | None = None


def test_provided_is_what_the_body_named_and_refuses_nulls_together() -> None:
    assert provided(_Patch.model_validate({"notes": None})) == {"notes": None}
    assert provided(_Patch.model_validate({"name": "x"})) == {"name": "x"}
    with pytest.raises(Invalid) as caught:
        provided(_Patch.model_validate({"name": None, "status": None, "notes": "y"}))
    assert [e["field"] for e in caught.value.errors] == ["name", "status"]


def test_noun_names_a_row_of_the_table() -> None:
    assert noun("material_specs") == "material spec"
    assert noun("shop_drawings") == "shop drawing"
    assert noun("tasks") == "task"


# --- db side ---------------------------------------------------------------------------------

def test_filters_and_set_clause() -> None:
    assert equal_to({"status": "active", "other": 1}, ("status", "type")) == [
        ("status = {}", "active"), ("type = {}", None)]
    assert where([]) == ("TRUE", [])
    assert where(equal_to({"status": "a"}, ("status", "type"))) == ("status = $1", ["a"])
    assert set_clause({"name": "x", "progress": 5}, 3, {"completed_at": "NULL"}) == (
        "name = $3, progress = $4, completed_at = NULL", ["x", 5])
    assert set_clause({}, 3) == ("id = id", [])
    with pytest.raises(AssertionError):
        set_clause({"name; DROP TABLE x": 1}, 1)


# --- field types ---------------------------------------------------------------------------

def test_text_limits_stay_what_each_field_published() -> None:
    for kind, limit in ((Name, 300), (ShortText, 300), (MediumText, 1000)):
        adapter = pydantic.TypeAdapter(kind)
        adapter.validate_python("x" * limit)
        with pytest.raises(pydantic.ValidationError):
            adapter.validate_python("x" * (limit + 1))


def test_one_of_checks_and_lists_its_values() -> None:
    class Model(pydantic.BaseModel):
        unit: Annotated[str, OneOf(("m2", "pcs"))] | None = None

    assert Model.model_validate({"unit": "m2"}).unit == "m2"
    with pytest.raises(pydantic.ValidationError, match="must be one of m2, pcs"):
        Model.model_validate({"unit": "kg"})
    schema: Any = Model.model_json_schema()["properties"]["unit"]
    assert {"enum": ["m2", "pcs"], "type": "string"} in schema["anyOf"]
