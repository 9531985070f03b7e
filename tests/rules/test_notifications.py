"""Notification preferences, reminder days and the digest, pure."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest

from rules import notifications as rules
from rules.calendar import make_calendar
from rules.errors import InvalidInput

CAL = make_calendar()
MONDAY = dt.date(2026, 3, 16)


def test_changes_are_checked_all_at_once() -> None:
    project = uuid.uuid4()
    changes = rules.check_changes([
        {"project_id": None, "kind": "mention", "channel": "off"},
        {"project_id": project, "kind": "mention", "channel": None},
        {"project_id": project, "kind": "action_required", "channel": "digest"}])
    assert [c.channel for c in changes] == ["off", None, "digest"]
    with pytest.raises(InvalidInput) as caught:
        rules.check_changes([
            {"project_id": None, "kind": "action_required", "channel": "off"},
            {"project_id": None, "kind": "nope", "channel": "live"},
            {"project_id": None, "kind": "mention", "channel": "fax"},
            {"project_id": None, "kind": "mention", "channel": "live"},
            {"project_id": None, "kind": "mention", "channel": "email"}])
    assert caught.value.code == "action_required_always_on"
    assert [e["field"] for e in caught.value.errors] == [
        "preferences[0].channel", "preferences[1].kind", "preferences[2].channel",
        "preferences[4].kind"]
    with pytest.raises(InvalidInput):
        rules.check_changes([{"kind": "mention", "channel": "live"}] * 201)


def test_effective_channels_project_then_all_then_default() -> None:
    project = uuid.uuid4()
    rows = [{"project_id": None, "kind": "mention", "channel": "digest"},
            {"project_id": project, "kind": "mention", "channel": "off"},
            {"project_id": project, "kind": "action_required", "channel": "live"}]
    every = {p["kind"]: (p["channel"], p["source"]) for p in rules.effective(rows, project)}
    assert every["mention"] == ("off", "project")
    assert every["action_required"] == ("live", "project")
    assert every["rfi_open"] == ("live", "default")
    defaults = {p["kind"]: (p["channel"], p["source"]) for p in rules.effective(rows, None)}
    assert defaults["mention"] == ("digest", "all_projects")
    assert defaults["action_required"] == ("email", "default")
    assert set(defaults) == set(rules.KINDS)


@pytest.mark.parametrize(("due", "today", "state"), [
    (MONDAY + dt.timedelta(days=1), MONDAY, "due_tomorrow"),
    (MONDAY + dt.timedelta(days=2), MONDAY, None),
    (MONDAY, MONDAY, "due_today"),
    (MONDAY - dt.timedelta(days=45), MONDAY, "overdue"),
    (MONDAY - dt.timedelta(days=46), MONDAY, None),
    (dt.date(2026, 3, 23), dt.date(2026, 3, 20), "due_tomorrow"),  # Friday: Monday's
])
def test_reminder_days(due: dt.date, today: dt.date, state: str | None) -> None:
    assert rules.reminder_state(CAL, due, today) == state


def test_reminder_text() -> None:
    title, message = rules.reminder_text("rfi", "RFI-001 Ceiling", MONDAY,
                                         "overdue", MONDAY + dt.timedelta(days=1))
    assert title == "Action required: RFI RFI-001 Ceiling — overdue by 1 day (due 2026-03-16)"
    assert message.startswith('RFI "RFI-001 Ceiling" is overdue by 1 day')
    title, _ = rules.reminder_text("task", "x" * 1000, MONDAY, "due_today", MONDAY)
    assert len(title) <= 300 and title.endswith("due today")


def test_the_digest_escapes_what_users_wrote() -> None:
    at = dt.datetime(2026, 3, 16, 8, tzinfo=dt.UTC)
    items = [rules.DigestItem("mention", "<b>Hi</b> & bye", "<img src=x onerror=1>",
                              "Şişli <Tower>", at)] * 101
    subject, text, html = rules.digest("<Ayşe>", MONDAY, items)
    assert subject == "Formula PM digest for 2026-03-16: 101 notifications"
    assert "<b>Hi</b> & bye [Şişli <Tower>]" in text and "1 more" in text
    assert "<b>" not in html and "<img" not in html and "<Ayşe>" not in html
    assert "&lt;b&gt;Hi&lt;/b&gt; &amp; bye" in html and "Şişli &lt;Tower&gt;" in html
    assert html.count("<li>") == 101  # 100 listed, one line counting the rest


def test_every_kind_the_service_writes_can_be_chosen() -> None:
    """A notification written with a kind the preferences do not know could not be turned
    off or mailed: every constant `kind=` of a notify call is one of KINDS."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    written = set()
    for path in [*root.joinpath("server").rglob("*.py"), *root.joinpath("db").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", ""))
                if name in ("notify", "Note", "_tell"):
                    for arg in [*node.args, *(k.value for k in node.keywords if k.arg == "kind")]:
                        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and \
                                re.fullmatch(r"[a-z][a-z_]*", arg.value):
                            written.add(arg.value)
    assert {"mention", "review_task", "rfi_open", "procurement_risk"} <= written
    assert written <= set(rules.KINDS), written - set(rules.KINDS)
