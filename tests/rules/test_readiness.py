"""Scope readiness: what blocks an item, and the project's share."""

from __future__ import annotations

from rules.readiness import Linked, blocking, share


def test_an_item_is_ready_when_drawings_are_approved_and_specs_delivered() -> None:
    assert blocking([]) == []
    ok = [Linked("shop_drawing", "d1", "approved"), Linked("shop_drawing", "d2",
                                                           "approved_as_noted"),
          Linked("material_spec", "m1", "delivered"), Linked("material_spec", "m2", "used"),
          Linked("material_spec", "m3", "ordered", "received"),
          Linked("material_spec", "m4", "ordered", "delivered")]
    assert blocking(ok) == []
    bad = [Linked("shop_drawing", "d3", "in_review"),
           Linked("material_spec", "m5", "ordered", "shipped"),
           Linked("material_spec", "m6", "revision_required"),
           Linked("material_spec", "m7", "in_stock")]
    assert [b.id for b in blocking(ok + bad)] == ["d3", "m5", "m6", "m7"]


def test_share() -> None:
    assert share(0, 0) == 1.0
    assert share(1, 3) == 0.3333
    assert share(3, 3) == 1.0
