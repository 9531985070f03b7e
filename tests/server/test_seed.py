"""The demo firm reads like a real one and holds together: real-sounding names (no numbered
copies), drawing and spec numbers as a fit-out firm writes them, statuses that agree with
completion and with each project's timeline; the same rows (ids too) on every run."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from cli.demo_catalogue import TODAY
from cli.seed import build_demo, scope_status

NUMBERED = re.compile(r"\(\d+\)|#\d+|\bSCOPE\d|\bSPEC\d|\bFM-\d")


@pytest.fixture(scope="module")
def demo() -> dict[str, list[dict[str, Any]]]:
    return build_demo(8, "hash").tables


def _by_project(rows: list[dict[str, Any]], key: str) -> dict[Any, list[Any]]:
    found: dict[Any, list[Any]] = {}
    for row in rows:
        found.setdefault(row["project_id"], []).append(row[key])
    return found


def test_the_same_seed_gives_the_same_rows_and_another_seed_other_ones() -> None:
    assert build_demo(3, "hash").tables == build_demo(3, "hash").tables
    assert build_demo(3, "hash", seed=7).tables != build_demo(3, "hash").tables


def test_counts_per_project_stay_what_benchmarks_and_tests_expect() -> None:
    counts = {table: len(rows) for table, rows in build_demo(2, "hash").tables.items()}
    assert counts["projects"] == 2 and counts["tasks"] == 80
    assert counts["scope_items"] == 38 and counts["shop_drawings"] == 30
    assert counts["material_specs"] == 40 and counts["users"] == 10


def test_no_mechanical_names(demo: dict[str, list[dict[str, Any]]]) -> None:
    texts = [*(p["name"] for p in demo["projects"]), *(t["name"] for t in demo["tasks"]),
             *(s["name"] for s in demo["scope_items"]),
             *(d["title"] for d in demo["shop_drawings"]),
             *(m["description"] for m in demo["material_specs"]),
             *(m["code"] for m in demo["material_specs"]),
             *(s["code"] for s in demo["scope_items"])]
    assert not [text for text in texts if NUMBERED.search(text)]
    assert len({p["name"] for p in demo["projects"]}) == 8
    for names in _by_project(demo["tasks"], "name").values():
        assert len(set(names)) == len(names) == 40
    assert all(text[0].isupper() for text in texts)
    assert all(p["location"].endswith(", İstanbul") for p in demo["projects"])


def test_drawing_and_spec_numbers_are_a_fit_out_firms(
    demo: dict[str, list[dict[str, Any]]],
) -> None:
    for numbers in _by_project(demo["shop_drawings"], "drawing_number").values():
        assert len(set(numbers)) == len(numbers)
        assert all(re.fullmatch(r"(A|ID|RCP|FL|E|M|SG)-\d{3}", n) for n in numbers)
        assert {"A-101", "ID-201"} <= set(numbers)
    codes = {m["code"] for m in demo["material_specs"]}
    assert all(re.fullmatch(r"[A-Z]{2}-\d{2}", c) for c in codes)
    assert {m["manufacturer"] for m in demo["material_specs"]} >= {"VitrA", "Armstrong"}


def test_scope_status_agrees_with_completion(demo: dict[str, list[dict[str, Any]]]) -> None:
    on_hold = {p["id"] for p in demo["projects"] if p["status"] == "on_hold"}
    for item in demo["scope_items"]:
        assert item["status"] == scope_status(item["completion"], item["project_id"] in on_hold)
        assert (item["completion"] == 100) == (item["status"] == "completed")
        assert (item["completion"] == 0) == (item["status"] == "pending")
    statuses = Counter(item["status"] for item in demo["scope_items"])
    assert statuses["completed"] and statuses["pending"] and statuses["in_progress"]


@pytest.mark.parametrize(("completion", "on_hold", "status"), [
    (0, False, "pending"), (10, False, "in_progress"), (90, False, "in_progress"),
    (100, False, "completed"), (50, True, "on_hold"), (0, True, "pending"),
    (100, True, "completed"),
])
def test_scope_status_rule(completion: int, on_hold: bool, status: str) -> None:
    assert scope_status(completion, on_hold) == status


def test_statuses_follow_each_projects_timeline(
    demo: dict[str, list[dict[str, Any]]],
) -> None:
    projects = {p["id"]: p for p in demo["projects"]}
    assert {p["status"] for p in projects.values()} == {
        "active", "completed", "on_tender", "on_hold"}
    for p in projects.values():
        assert (p["status"] == "completed") == (p["end_date"] < TODAY)
        assert (p["status"] == "on_tender") == (p["start_date"] > TODAY)
        assert p["progress"] == {"completed": 100, "on_tender": 0}.get(p["status"],
                                                                      p["progress"])
    for task in demo["tasks"]:
        project = projects[task["project_id"]]
        assert (task["status"] == "completed") == (task["progress"] == 100) \
            == (task["completed_at"] is not None)
        assert task["start_date"] <= task["due_date"]
        if project["status"] == "completed":
            assert task["status"] in ("completed", "review")
        if project["status"] == "on_tender":
            assert task["status"] == "pending" and task["progress"] == 0
        if task["status"] == "pending":
            assert task["progress"] == 0 and task["start_date"] >= project["start_date"]
    for drawing in demo["shop_drawings"]:
        approved = drawing["status"] in ("approved", "approved_as_noted")
        assert approved == (drawing["approved_at"] is not None)
        assert (drawing["status"] == "draft") == (drawing["submitted_at"] is None)
        if projects[drawing["project_id"]]["status"] == "completed":
            assert approved
    for spec in demo["material_specs"]:
        if projects[spec["project_id"]]["status"] == "completed":
            assert spec["status"] == "used"
        if projects[spec["project_id"]]["status"] == "on_tender":
            assert spec["status"] in ("pending", "pending_approval")
