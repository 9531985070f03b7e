"""The review engine's pure rules: templates, completion rules, outcomes, ball in court."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from rules import reviews as rv
from rules.calendar import make_calendar
from rules.errors import InvalidInput, NotPermitted, WrongState

CAL = make_calendar("Europe/Istanbul", holidays=["2026-12-08"])
MONDAY = dt.date(2026, 12, 7)
OUTCOMES = [{"label": "rejected", "status": "rejected"},
            {"label": "revise_and_resubmit", "status": "revise_and_resubmit"},
            {"label": "approved_as_noted", "status": "approved"},
            {"label": "approved", "status": "approved"},
            {"label": "for_information", "status": "approved"}]


def user(ref: str, required: bool = True) -> dict[str, Any]:
    return {"kind": "user", "ref": ref, "required": required}


def template(*steps: dict[str, Any]) -> rv.Template:
    return rv.parse_template(OUTCOMES, list(steps))


def tasks_of(new: tuple[rv.NewTask, ...], first_id: int = 1) -> list[rv.Task]:
    return [rv.Task(first_id + i, t.step, t.reviewer, due=t.due) for i, t in enumerate(new)]


def answer(tasks: list[rv.Task], task_id: int, outcome: str) -> list[rv.Task]:
    return [replace(t, state="responded", outcome=outcome) if t.id == task_id else t
            for t in tasks]


def apply(tasks: list[rv.Task], adv: rv.Advance) -> list[rv.Task]:
    out = [replace(t, state="closed") if t.id in adv.close else
           replace(t, state="skipped") if t.id in adv.skipped else t for t in tasks]
    return out + tasks_of(adv.opened, first_id=len(tasks) + 1)


def test_due_dates_in_working_days() -> None:
    t = template({"reviewers": [user("a")], "days": 2}, {"reviewers": [user("b")], "days": 1})
    first = rv.start(t, MONDAY, CAL)
    # Monday + 2 working days with Tuesday a holiday: Thursday.
    assert [n.due for n in first] == [dt.date(2026, 12, 10)]
    assert first[0].reviewer == rv.Reviewer("user", "a", True)


def test_serial_steps_then_result_of_the_last() -> None:
    t = template({"reviewers": [user("a")]}, {"reviewers": [user("b")]})
    tasks = tasks_of(rv.start(t, MONDAY, CAL))
    tasks = answer(tasks, 1, "revise_and_resubmit")
    adv = rv.advance(t, 0, tasks, MONDAY, CAL)
    assert adv.step_complete and adv.step_outcome == "revise_and_resubmit"
    assert not adv.finished and [n.reviewer.ref for n in adv.opened] == ["b"]
    tasks = apply(tasks, adv)
    tasks = answer(tasks, 2, "approved")
    adv = rv.advance(t, 1, tasks, MONDAY, CAL)
    assert adv.finished and adv.result == "approved" and adv.status == "approved"


def test_parallel_reviewers_all_rule_and_most_influential() -> None:
    t = template({"reviewers": [user("a"), user("b"), user("c")], "rule": "all"})
    tasks = tasks_of(rv.start(t, MONDAY, CAL))
    assert len(tasks) == 3
    tasks = answer(tasks, 1, "approved")
    assert not rv.advance(t, 0, tasks, MONDAY, CAL).step_complete
    tasks = answer(tasks, 2, "approved_as_noted")
    assert not rv.advance(t, 0, tasks, MONDAY, CAL).step_complete
    tasks = answer(tasks, 3, "for_information")
    adv = rv.advance(t, 0, tasks, MONDAY, CAL)
    assert adv.finished and adv.result == "approved_as_noted" and adv.close == ()


def test_any_rule_closes_the_others() -> None:
    t = template({"reviewers": [user("a"), user("b"), user("c")], "rule": "any"})
    tasks = answer(tasks_of(rv.start(t, MONDAY, CAL)), 2, "rejected")
    adv = rv.advance(t, 0, tasks, MONDAY, CAL)
    assert adv.finished and adv.result == "rejected" and adv.status == "rejected"
    assert set(adv.close) == {1, 3}


def test_count_rule() -> None:
    t = template({"reviewers": [user("a"), user("b"), user("c")], "rule": "count", "count": 2})
    tasks = answer(tasks_of(rv.start(t, MONDAY, CAL)), 1, "approved")
    assert not rv.advance(t, 0, tasks, MONDAY, CAL).step_complete
    tasks = answer(tasks, 3, "rejected")
    adv = rv.advance(t, 0, tasks, MONDAY, CAL)
    assert adv.result == "rejected" and adv.close == (2,)


def test_optional_reviewers_neither_block_nor_decide() -> None:
    t = template({"reviewers": [user("a"), user("o", required=False)], "rule": "all"})
    tasks = tasks_of(rv.start(t, MONDAY, CAL))
    tasks = answer(tasks, 2, "rejected")  # the optional one answers first
    assert not rv.advance(t, 0, tasks, MONDAY, CAL).step_complete
    tasks = answer(tasks, 1, "approved")
    adv = rv.advance(t, 0, tasks, MONDAY, CAL)
    assert adv.result == "approved"
    # And when the optional one has not answered, the step completes without them.
    tasks = answer(tasks_of(rv.start(t, MONDAY, CAL)), 1, "approved")
    assert rv.advance(t, 0, tasks, MONDAY, CAL).close == (2,)


def test_role_and_client_reviewers_any_of_them_and_only_they() -> None:
    role = rv.Reviewer("role", "project_manager")
    client = rv.Reviewer("client", "7")
    pm = rv.Actor("u1", frozenset({"project_manager"}))
    client_user = rv.Actor("u2", frozenset(), client_id="7")
    other_client = rv.Actor("u3", frozenset({"viewer"}), client_id="8")
    assert rv.may_answer(role, pm) and not rv.may_answer(role, client_user)
    assert rv.may_answer(client, client_user) and not rv.may_answer(client, other_client)
    assert not rv.may_answer(client, pm)
    assert rv.may_answer(rv.Reviewer("user", "u3"), other_client)
    assert not rv.may_answer(rv.Reviewer("user", "u3"), pm)


def test_check_respond_order_and_refusals() -> None:
    t = template({"reviewers": [user("a")]})
    task = rv.Task(1, 0, rv.Reviewer("user", "a"))
    a, b = rv.Actor("a"), rv.Actor("b")
    assert rv.check_respond(t, "in_progress", task, a, "approved", "ok").status == "approved"
    with pytest.raises(InvalidInput) as bad:
        rv.check_respond(t, "in_progress", task, a, "maybe", None)
    assert bad.value.code == "unknown_outcome"
    assert "approved" in bad.value.extra["allowed_outcomes"]
    with pytest.raises(NotPermitted) as refused:
        rv.check_respond(t, "in_progress", task, b, "approved", None)
    assert refused.value.code == "not_your_task"
    with pytest.raises(WrongState) as done:
        rv.check_respond(t, "in_progress", replace(task, state="responded"), a, "approved",
                         None)
    assert done.value.code == "task_not_pending"
    with pytest.raises(WrongState) as over:
        rv.check_respond(t, "terminated", task, a, "approved", None)
    assert over.value.code == "review_not_in_progress"
    with pytest.raises(InvalidInput) as long:
        rv.check_respond(t, "in_progress", task, a, "approved", "x" * (rv.COMMENT_MAX + 1))
    assert long.value.code == "comment_too_long"


def test_reassign() -> None:
    task = rv.Task(1, 0, rv.Reviewer("user", "a"))
    rv.check_reassign("in_progress", task, rv.Reviewer("user", "b"))
    with pytest.raises(InvalidInput):
        rv.check_reassign("in_progress", task, rv.Reviewer("user", "a"))
    with pytest.raises(WrongState):
        rv.check_reassign("in_progress", replace(task, state="responded"),
                          rv.Reviewer("user", "b"))
    with pytest.raises(WrongState):
        rv.check_reassign("completed", task, rv.Reviewer("user", "b"))
    rv.check_initiator("u1", "u1")
    rv.check_initiator("u2", "u1", is_admin=True)
    with pytest.raises(NotPermitted):
        rv.check_initiator("u2", "u1")


def test_skip_a_middle_step_and_the_last() -> None:
    t = template({"reviewers": [user("a")]}, {"reviewers": [user("b"), user("c")]},
                 {"reviewers": [user("d")]})
    tasks = answer(tasks_of(rv.start(t, MONDAY, CAL)), 1, "approved_as_noted")
    tasks = apply(tasks, rv.advance(t, 0, tasks, MONDAY, CAL))
    adv = rv.skip(t, "in_progress", 1, tasks, MONDAY, CAL)
    assert adv.step_complete and adv.step_outcome is None and set(adv.skipped) == {2, 3}
    assert [n.reviewer.ref for n in adv.opened] == ["d"]
    tasks = apply(tasks, adv)
    # Skipping the last step too: the result is the last step that decided.
    adv = rv.skip(t, "in_progress", 2, tasks, MONDAY, CAL)
    assert adv.finished and adv.result == "approved_as_noted" and adv.status == "approved"
    with pytest.raises(WrongState):
        rv.skip(t, "completed", 2, tasks, MONDAY, CAL)


def test_skipping_every_step_gives_no_result() -> None:
    t = template({"reviewers": [user("a")]})
    adv = rv.skip(t, "in_progress", 0, tasks_of(rv.start(t, MONDAY, CAL)), MONDAY, CAL)
    assert adv.finished and adv.result is None and adv.status is None


def test_terminate() -> None:
    tasks = [rv.Task(1, 0, rv.Reviewer("user", "a"), state="responded", outcome="approved"),
             rv.Task(2, 1, rv.Reviewer("user", "b")), rv.Task(3, 1, rv.Reviewer("user", "c"))]
    assert rv.terminate("in_progress", tasks) == (2, 3)
    with pytest.raises(WrongState):
        rv.terminate("terminated", tasks)


def test_ball_in_court_from_open_tasks() -> None:
    at = dt.datetime(2026, 12, 7, 9, tzinfo=dt.UTC)
    tasks = [rv.Task(1, 0, rv.Reviewer("user", "a"), "responded", "approved", at,
                     dt.date(2026, 12, 9)),
             rv.Task(2, 1, rv.Reviewer("role", "project_manager"), "pending", None,
                     at + dt.timedelta(hours=2), dt.date(2026, 12, 14)),
             rv.Task(3, 1, rv.Reviewer("client", "7"), "pending", None, at,
                     dt.date(2026, 12, 11))]
    holders = rv.ball_in_court(tasks)
    assert [(h.kind, h.ref, h.due) for h in holders] == [
        ("client", "7", dt.date(2026, 12, 11)),
        ("role", "project_manager", dt.date(2026, 12, 14))]
    assert holders[0].since == at and holders[0].task_id == 3
    assert rv.ball_in_court([]) == []


def test_single_reviewer_default() -> None:
    t = rv.single_reviewer_template("project_manager", [("approved", "approved"),
                                                        ("rejected", "rejected")])
    assert t.steps[0].rule == "any" and t.steps[0].reviewers[0].kind == "role"
    tasks = answer(tasks_of(rv.start(t, MONDAY, CAL)), 1, "rejected")
    assert rv.advance(t, 0, tasks, MONDAY, CAL).status == "rejected"


def step(**kw: Any) -> dict[str, Any]:
    return {"reviewers": [user("a")], **kw}


@pytest.mark.parametrize(("outcomes", "steps", "code"), [
    ([], [step()], "no_outcomes"),
    ([*OUTCOMES, {"label": "x", "status": "y"}, {"label": "z", "status": "y"}], [step()],
     "too_many_outcomes"),
    ([{"label": "Approved!", "status": "approved"}], [step()], "invalid_outcome_label"),
    ([{"label": "ok"}], [step()], "invalid_outcome_status"),
    ([{"label": "ok", "status": "nonsense"}], [step()], "invalid_outcome_status"),
    ([{"label": "ok", "status": "approved"}] * 2, [step()], "duplicate_outcome"),
    (OUTCOMES, [], "no_steps"),
    (OUTCOMES, [step()] * 21, "too_many_steps"),
    (OUTCOMES, [{"reviewers": []}], "step_without_reviewers"),
    (OUTCOMES, [{}], "step_without_reviewers"),
    (OUTCOMES, [{"reviewers": [user("a", required=False)]}], "step_without_required"),
    (OUTCOMES, [{"reviewers": [user("a"), user("a")]}], "duplicate_reviewer"),
    (OUTCOMES, [{"reviewers": [{"kind": "team", "ref": "x"}]}], "invalid_reviewer_kind"),
    (OUTCOMES, [{"reviewers": [{"kind": "user", "ref": " "}]}], "invalid_reviewer"),
    (OUTCOMES, [{"reviewers": [{"kind": "user", "ref": "a", "required": "yes"}]}],
     "invalid_reviewer"),
    (OUTCOMES, [step(rule="most")], "invalid_completion_rule"),
    (OUTCOMES, [step(rule="count")], "invalid_count"),
    (OUTCOMES, [step(rule="count", count=2)], "invalid_count"),
    (OUTCOMES, [step(rule="count", count=0)], "invalid_count"),
    (OUTCOMES, [step(rule="all", count=1)], "invalid_count"),
    (OUTCOMES, [step(days=-1)], "invalid_duration"),
    (OUTCOMES, [step(days=366)], "invalid_duration"),
    (OUTCOMES, [step(days="5")], "invalid_duration"),
    (OUTCOMES, [step(name="x" * 201)], "invalid_step_name"),
])
def test_bad_templates_refused(outcomes: list[dict[str, Any]], steps: list[dict[str, Any]],
                               code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        rv.parse_template(outcomes, steps, statuses={"approved", "rejected",
                                                     "revise_and_resubmit"})
    assert caught.value.code == code
    assert caught.value.errors and caught.value.errors[0]["field"]


def test_numeric_refs_become_text() -> None:
    t = rv.parse_template(OUTCOMES, [{"reviewers": [{"kind": "client", "ref": 7}]}])
    assert t.steps[0].reviewers[0].ref == "7"
