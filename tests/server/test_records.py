"""Pure helpers of the resources: totals, list filters, version checks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from db.cursor_codec import encode_page_cursor
from db.queries.rows import where
from server.errors import Invalid, PreconditionFailed
from server.fields import line_total
from server.records import check_version
from server.rest import PageParams, SortKey, keyset

SORTABLE = {"created_at": SortKey("created_at", "timestamptz")}


def test_line_total_rounds_half_up_to_the_cent() -> None:
    assert line_total(Decimal("2.5"), Decimal("1200.10"), "t") == Decimal("3000.25")
    assert line_total(Decimal("0.005"), Decimal("1"), "t") == Decimal("0.01")
    assert line_total(Decimal("1.333"), Decimal("0.03"), "t") == Decimal("0.04")
    assert line_total(None, Decimal("1"), "t") is None
    assert line_total(Decimal("1"), None, "t") is None
    with pytest.raises(Invalid) as caught:
        line_total(Decimal("100000"), Decimal("10000000"), "total_cost")
    assert caught.value.errors[0]["field"] == "total_cost"


def test_where_skips_missing_filters_and_numbers_parameters() -> None:
    page = keyset(PageParams(), SORTABLE, "created_at")
    assert where([("a = {}", None), ("b = {}", 2)], page) == ("b = $1 AND TRUE", [2])
    cursor = encode_page_cursor("created_at", True, "2026-01-01T00:00:00+00:00",
                           "00000000-0000-0000-0000-000000000001")
    page = keyset(PageParams(cursor=cursor, sort="-created_at"), SORTABLE, "created_at")
    sql, args = where([("a = {}", 1), ("b = {}", None), ("c = {}", False)], page)
    assert sql.startswith("a = $1 AND c = $2 AND (created_at, id) < ($3::text::timestamptz")
    assert args == [1, False, "2026-01-01T00:00:00+00:00",
                    "00000000-0000-0000-0000-000000000001"]


def test_check_version() -> None:
    check_version(3, None)
    check_version(3, 3)
    with pytest.raises(PreconditionFailed) as caught:
        check_version(3, 2)
    assert caught.value.extra == {"current_version": 3}
    assert caught.value.headers == {"ETag": '"3"'}
