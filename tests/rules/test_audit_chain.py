"""The chain's canonical form and walk, and the OCSF mapping (pure)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from rules.audit_chain import (
    GENESIS,
    PERSONAL,
    PLAIN,
    Walk,
    canonical,
    chain_of,
    digest,
    parse_head,
    step,
    with_digests,
)
from rules.ocsf import ocsf_event

ORG = "5c0e7e0e-9d7a-4f5a-9d0a-8d3d7c1e2f00"


def row(**changes: Any) -> dict[str, Any]:
    base = {"id": 7, "txid": 900, "org_id": ORG, "project_id": None, "table_name": "users",
            "record_id": "5c0e7e0e-9d7a-4f5a-9d0a-8d3d7c1e2f02", "action": "update",
            "changed_fields": ["last_name"], "user_id": ORG[:-1] + "1", "request_id": "r-1",
            "origin_sid": None, "at_us": 1_765_000_000_123_456, "bulk": False,
            "ip": "10.0.0.1/32", "user_agent": "Mozilla/5.0",
            "old_values": '{"last_name": "Yılmaz"}', "new_values": '{"last_name": "Kaya"}',
            "details": None}
    return with_digests({**base, **changes})


@pytest.mark.parametrize("field", PLAIN + PERSONAL)
def test_every_field_is_in_the_hash(field: str) -> None:
    original = row()
    changed = {"id": 8, "txid": 901, "at_us": 1, "bulk": True, "changed_fields": ["x"]}.get(
        field, "something else")
    assert step(GENESIS, original) != step(GENESIS, row(**{field: changed}))


def test_ids_as_uuid_or_text_and_the_personal_values_as_digests_only() -> None:
    text = canonical(row())
    assert canonical(row(org_id=uuid.UUID(ORG))) == text
    assert canonical({k: v for k, v in row().items() if k not in PERSONAL}) == text
    assert b"Kaya" not in text and b"10.0.0.1" not in text and b"Mozilla" not in text
    kept = digest('{"last_name": "Kaya"}')
    assert kept is not None and kept.hex().encode() in text


def test_an_erased_value_verifies_by_its_kept_digest() -> None:
    before = step(GENESIS, row())
    erased = row(new_values='{"erased": true}', ip=None)
    kept = {"new_values": digest(row()["new_values"]), "ip": digest(row()["ip"])}
    assert step(GENESIS, erased, {k: v for k, v in kept.items() if v}) == before
    assert step(GENESIS, erased) != before


def test_the_walk_reports_the_first_broken_link() -> None:
    rows = [row(id=i) for i in range(1, 6)]
    hashes, previous = [], GENESIS
    for r in rows:
        previous = step(previous, r)
        hashes.append(previous)
    walk = Walk("c")
    for seq, (r, h) in enumerate(zip(rows, hashes, strict=True), 1):
        assert walk.add(seq, r["id"], h, r) is None
    assert walk.end(5, hashes[-1]) is None and walk.count == 5
    # A changed row, a missing row, a gap, a head past the end.
    broken = Walk("c")
    broken.add(1, 1, hashes[0], rows[0])
    found = broken.add(2, 2, hashes[1], row(id=2, action="delete"))
    assert found is not None and found.seq == 2 and "differs" in found.reason
    gone = Walk("c")
    gone.add(1, 1, hashes[0], rows[0])
    assert "gone" in (gone.add(2, 2, hashes[1], None) or pytest.fail()).reason
    gap = Walk("c")
    gap.add(1, 1, hashes[0], rows[0])
    assert (gap.add(3, 3, hashes[2], rows[2]) or pytest.fail()).seq == 2
    short = Walk("c")
    short.add(1, 1, hashes[0], rows[0])
    assert "head is at 5" in (short.end(5, hashes[4]) or pytest.fail()).reason


def test_chains_and_heads() -> None:
    assert chain_of(None) == "service" and chain_of(uuid.UUID(ORG)) == ORG
    assert parse_head("not json") is None and parse_head("[]") is None
    head = parse_head('{"chain": "service", "seq": 3, "last_id": 9, "hash": "00ff"}')
    assert head is not None and head["hash"] == b"\x00\xff"


@pytest.mark.parametrize(("action", "table", "class_uid", "status"), [
    ("login", None, 3002, "Success"), ("login_failed", None, 3002, "Failure"),
    ("logout", None, 3002, "Success"), ("update", "users", 3004, "Success"),
    ("insert", "project_members", 3004, "Success"), ("insert", "tasks", 6003, "Success"),
    ("audit_exported", None, 6003, "Success"), ("backup_failed", None, 6003, "Failure"),
])
def test_ocsf_classes(action: str, table: str | None, class_uid: int, status: str) -> None:
    event = ocsf_event({**row(action=action, table_name=table), "at_ms": 5, "details": None},
                       "cursor")
    assert event["class_uid"] == class_uid and event["status"] == status
    assert event["type_uid"] == class_uid * 100 + event["activity_id"]
    assert event["unmapped"]["cursor"] == "cursor" and event["time"] == 5
