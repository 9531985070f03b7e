"""The review engine's rules: templates (ordered steps of reviewers, outcomes mapped to record
statuses), who may answer a task, when a step is complete, what a review's result is, and who
holds the ball.

Steps run in sequence, a step's reviewers in parallel. A reviewer is a user, a role within the
project (any member holding it may answer) or a client company (any of its users may answer),
required or optional. A step completes by its rule over its *required* reviewers' responses:
`all` of them, `any` one, or `count` N of them; optional reviewers never block and their
answers do not decide. The step's outcome is the most influential outcome among the required
responses, influence being the order of the template's outcomes (first = most influential,
e.g. rejected before revise and resubmit before approved as noted before approved). The
review's result is the outcome of its last step that was not skipped; that outcome's status is
what the record moves to.

Pure: rows in, decisions out; the server stores the tasks and writes the audit trail.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rules.calendar import Calendar, add_working_days
from rules.errors import InvalidInput, NotPermitted, WrongState

REVIEWER_KINDS = ("user", "role", "client")
COMPLETION_RULES = ("all", "any", "count")
REVIEW_STATES = ("in_progress", "completed", "terminated")
# pending: waiting for an answer; responded: answered; skipped: its step was skipped;
# closed: its step completed without it (or the review was terminated).
TASK_STATES = ("pending", "responded", "skipped", "closed")
OUTCOMES_MAX = 6
STEPS_MAX = 20
REVIEWERS_MAX = 50
STEP_DAYS_MAX = 365
LABEL_MAX = 60
COMMENT_MAX = 10_000
_LABEL = re.compile(r"^[a-z][a-z0-9_]{0,59}$")


@dataclass(frozen=True)
class Outcome:
    """A label a reviewer answers with and the record status it stands for."""

    label: str
    status: str


@dataclass(frozen=True)
class Reviewer:
    """Who answers: `kind` user / role / client and its `ref` (user id, role name, client
    id, as text)."""

    kind: str
    ref: str
    required: bool = True


@dataclass(frozen=True)
class Step:
    name: str
    reviewers: tuple[Reviewer, ...]
    rule: str = "all"
    count: int | None = None
    days: int = 5

    @property
    def required(self) -> tuple[Reviewer, ...]:
        return tuple(r for r in self.reviewers if r.required)

    @property
    def needed(self) -> int:
        """How many required responses complete the step."""
        if self.rule == "any":
            return 1
        if self.rule == "count":
            return self.count or 0
        return len(self.required)


@dataclass(frozen=True)
class Template:
    outcomes: tuple[Outcome, ...]
    steps: tuple[Step, ...]

    def outcome(self, label: str) -> Outcome:
        for o in self.outcomes:
            if o.label == label:
                return o
        raise InvalidInput(f"unknown outcome {label!r}; the template's outcomes are "
                           f"{', '.join(o.label for o in self.outcomes)}",
                           code="unknown_outcome",
                           errors=[{"field": "outcome", "message": "not one of the template's"}],
                           extra={"allowed_outcomes": [o.label for o in self.outcomes]})

    def influence(self, label: str) -> int:
        """Lower is more influential."""
        return [o.label for o in self.outcomes].index(label)


@dataclass(frozen=True)
class Task:
    """One reviewer's task as stored: its step (0-based), whom it is for and where it is."""

    id: Any
    step: int
    reviewer: Reviewer
    state: str = "pending"
    outcome: str | None = None
    assigned_at: dt.datetime | None = None
    due: dt.date | None = None


@dataclass(frozen=True)
class NewTask:
    step: int
    reviewer: Reviewer
    due: dt.date


@dataclass(frozen=True)
class Actor:
    """Who is acting: the user, the roles they hold in the record's project, their client."""

    user_id: str
    roles: frozenset[str] = frozenset()
    client_id: str | None = None


@dataclass(frozen=True)
class Advance:
    """What a response (or a skip) leads to: tasks to close, the step's outcome, the next
    step's tasks, and, when the review is over, its result and the record status."""

    step_complete: bool
    step_outcome: str | None = None
    close: tuple[Any, ...] = ()
    opened: tuple[NewTask, ...] = ()
    finished: bool = False
    result: str | None = None
    status: str | None = None
    skipped: tuple[Any, ...] = ()


def _bad(detail: str, fld: str, *, code: str) -> InvalidInput:
    return InvalidInput(detail, code=code, errors=[{"field": fld, "message": detail}])


def parse_template(outcomes: Sequence[Mapping[str, Any]], steps: Sequence[Mapping[str, Any]],
                   statuses: Iterable[str] | None = None) -> Template:
    """A checked template from request values; `statuses` (when given) are the record
    statuses an outcome may map to. Raises InvalidInput naming the field at fault."""
    if not outcomes:
        raise _bad("a template needs at least one outcome", "outcomes", code="no_outcomes")
    if len(outcomes) > OUTCOMES_MAX:
        raise _bad(f"at most {OUTCOMES_MAX} outcomes", "outcomes", code="too_many_outcomes")
    allowed = set(statuses) if statuses is not None else None
    parsed_outcomes = []
    for i, o in enumerate(outcomes):
        label, status = o.get("label"), o.get("status")
        if not isinstance(label, str) or not _LABEL.match(label):
            raise _bad("an outcome label is lower-case letters, digits and _ (at most "
                       f"{LABEL_MAX})", f"outcomes[{i}].label", code="invalid_outcome_label")
        if not isinstance(status, str) or (allowed is not None and status not in allowed):
            raise _bad(f"outcome {label!r} maps to an unknown status", f"outcomes[{i}].status",
                       code="invalid_outcome_status")
        parsed_outcomes.append(Outcome(label, status))
    if len({o.label for o in parsed_outcomes}) != len(parsed_outcomes):
        raise _bad("outcome labels must be unique", "outcomes", code="duplicate_outcome")
    if not steps:
        raise _bad("a template needs at least one step", "steps", code="no_steps")
    if len(steps) > STEPS_MAX:
        raise _bad(f"at most {STEPS_MAX} steps", "steps", code="too_many_steps")
    return Template(tuple(parsed_outcomes), tuple(_step(i, s) for i, s in enumerate(steps)))


def _step(i: int, s: Mapping[str, Any]) -> Step:
    where = f"steps[{i}]"
    name = s.get("name") or f"Step {i + 1}"
    if not isinstance(name, str) or len(name) > 200:
        raise _bad("a step name is text of at most 200 characters", f"{where}.name",
                   code="invalid_step_name")
    raw = s.get("reviewers") or []
    if not raw:
        raise _bad("a step needs at least one reviewer", f"{where}.reviewers",
                   code="step_without_reviewers")
    if len(raw) > REVIEWERS_MAX:
        raise _bad(f"at most {REVIEWERS_MAX} reviewers a step", f"{where}.reviewers",
                   code="too_many_reviewers")
    reviewers = tuple(_reviewer(f"{where}.reviewers[{j}]", r) for j, r in enumerate(raw))
    if len(set((r.kind, r.ref) for r in reviewers)) != len(reviewers):
        raise _bad("a reviewer appears twice in one step", f"{where}.reviewers",
                   code="duplicate_reviewer")
    rule = s.get("rule", "all")
    if rule not in COMPLETION_RULES:
        raise _bad(f"rule is one of {', '.join(COMPLETION_RULES)}", f"{where}.rule",
                   code="invalid_completion_rule")
    days = s.get("days", 5)
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= STEP_DAYS_MAX:
        raise _bad(f"days is 0 to {STEP_DAYS_MAX} working days", f"{where}.days",
                   code="invalid_duration")
    required = sum(r.required for r in reviewers)
    if required == 0:
        raise _bad("a step needs at least one required reviewer", f"{where}.reviewers",
                   code="step_without_required")
    count = s.get("count")
    if rule == "count":
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= required:
            raise _bad(f"count is 1 to the step's {required} required reviewers",
                       f"{where}.count", code="invalid_count")
    elif count is not None:
        raise _bad("count goes only with rule 'count'", f"{where}.count", code="invalid_count")
    return Step(name, reviewers, rule, count, days)


def _reviewer(where: str, r: Mapping[str, Any]) -> Reviewer:
    kind, ref = r.get("kind"), r.get("ref")
    if kind not in REVIEWER_KINDS:
        raise _bad(f"a reviewer's kind is one of {', '.join(REVIEWER_KINDS)}",
                   f"{where}.kind", code="invalid_reviewer_kind")
    if isinstance(ref, int) and not isinstance(ref, bool):
        ref = str(ref)
    if not isinstance(ref, str) or not ref.strip() or len(ref) > 100:
        raise _bad("a reviewer needs its ref (user id, role name or client id)",
                   f"{where}.ref", code="invalid_reviewer")
    required = r.get("required", True)
    if not isinstance(required, bool):
        raise _bad("required is true or false", f"{where}.required", code="invalid_reviewer")
    return Reviewer(kind, ref.strip(), required)


def step_tasks(template: Template, step: int, on: dt.date, cal: Calendar) -> tuple[NewTask, ...]:
    """The tasks a step opens on day `on`, each due the step's working days later."""
    spec = template.steps[step]
    due = add_working_days(cal, on, spec.days)
    return tuple(NewTask(step, r, due) for r in spec.reviewers)


def start(template: Template, on: dt.date, cal: Calendar) -> tuple[NewTask, ...]:
    return step_tasks(template, 0, on, cal)


def may_answer(reviewer: Reviewer, actor: Actor) -> bool:
    if reviewer.kind == "user":
        return reviewer.ref == actor.user_id
    if reviewer.kind == "role":
        return reviewer.ref in actor.roles
    return actor.client_id is not None and reviewer.ref == actor.client_id


def check_respond(template: Template, review_state: str, task: Task, actor: Actor,
                  outcome: str, comment: str | None) -> Outcome:
    """Checks a response in the API's order: an unknown outcome 422, someone else's task
    403, a task or review no longer open 409, an over-long comment 422."""
    chosen = template.outcome(outcome)
    if not may_answer(task.reviewer, actor):
        raise NotPermitted("this task is not yours to answer", code="not_your_task")
    if review_state != "in_progress":
        raise WrongState(f"the review is {review_state}", code="review_not_in_progress")
    if task.state != "pending":
        raise WrongState(f"the task is {task.state}", code="task_not_pending")
    if comment is not None and len(comment) > COMMENT_MAX:
        raise _bad(f"a comment is at most {COMMENT_MAX} characters", "comment",
                   code="comment_too_long")
    return chosen


def check_attach(review_state: str, task: Task, actor: Actor) -> None:
    """A file for a response: only who may answer the task, while it waits for its answer
    (403, then 409)."""
    if not may_answer(task.reviewer, actor):
        raise NotPermitted("this task is not yours to answer", code="not_your_task")
    if review_state != "in_progress":
        raise WrongState(f"the review is {review_state}", code="review_not_in_progress")
    if task.state != "pending":
        raise WrongState(f"the task is {task.state}", code="task_not_pending")


def step_outcome(template: Template, step: int, tasks: Iterable[Task]) -> str | None:
    """The step's outcome once its rule is met (None while it is not)."""
    spec = template.steps[step]
    answers = [t.outcome for t in tasks
               if t.step == step and t.reviewer.required and t.state == "responded"
               and t.outcome is not None]
    if len(answers) < spec.needed:
        return None
    return min(answers, key=template.influence)


def advance(template: Template, step: int, tasks: Sequence[Task], on: dt.date,
            cal: Calendar) -> Advance:
    """After a response on step `step` (tasks: all the review's tasks, the response
    included): is the step complete, which tasks close, what opens next, is it over."""
    outcome = step_outcome(template, step, tasks)
    if outcome is None:
        return Advance(step_complete=False)
    close = tuple(t.id for t in tasks if t.step == step and t.state == "pending")
    return _next(template, step, tasks, on, cal, outcome, close=close)


def skip(template: Template, review_state: str, step: int, tasks: Sequence[Task], on: dt.date,
         cal: Calendar) -> Advance:
    """The initiator skips the current step: its pending tasks become skipped, no outcome."""
    if review_state != "in_progress":
        raise WrongState(f"the review is {review_state}", code="review_not_in_progress")
    skipped = tuple(t.id for t in tasks if t.step == step and t.state == "pending")
    return _next(template, step, tasks, on, cal, None, skipped=skipped)


def _next(template: Template, step: int, tasks: Sequence[Task], on: dt.date, cal: Calendar,
          outcome: str | None, close: tuple[Any, ...] = (),
          skipped: tuple[Any, ...] = ()) -> Advance:
    if step + 1 < len(template.steps):
        return Advance(True, outcome, close, step_tasks(template, step + 1, on, cal),
                       skipped=skipped)
    result = outcome
    if result is None:  # the last step was skipped: the last step that decided, if any
        for earlier in range(step - 1, -1, -1):
            result = step_outcome(template, earlier, tasks)
            if result is not None:
                break
    status = template.outcome(result).status if result is not None else None
    return Advance(True, outcome, close, (), True, result, status, skipped)


def check_initiator(actor_id: str, initiator_id: str, is_admin: bool = False) -> None:
    if actor_id != initiator_id and not is_admin:
        raise NotPermitted("only the review's initiator may do this", code="not_initiator")


def check_reassign(review_state: str, task: Task, to: Reviewer) -> None:
    if review_state != "in_progress":
        raise WrongState(f"the review is {review_state}", code="review_not_in_progress")
    if task.state != "pending":
        raise WrongState(f"the task is {task.state}; only a pending task is reassigned",
                         code="task_not_pending")
    if (to.kind, to.ref) == (task.reviewer.kind, task.reviewer.ref):
        raise _bad("the task already goes to this reviewer", "ref", code="same_reviewer")


def terminate(review_state: str, tasks: Iterable[Task]) -> tuple[Any, ...]:
    """The pending tasks a termination closes."""
    if review_state != "in_progress":
        raise WrongState(f"the review is {review_state}", code="review_not_in_progress")
    return tuple(t.id for t in tasks if t.state == "pending")


@dataclass(frozen=True)
class Holder:
    """Who holds the ball: a reviewer with an open task, since when, due when."""

    kind: str
    ref: str
    since: dt.datetime | None
    due: dt.date | None
    task_id: Any


def ball_in_court(tasks: Iterable[Task]) -> list[Holder]:
    """Every pending task's reviewer, earliest due first (ties: who waited longest)."""
    far = dt.date.max
    pending = [t for t in tasks if t.state == "pending"]
    pending.sort(key=lambda t: (t.due or far, t.assigned_at or dt.datetime.max.replace(
        tzinfo=dt.UTC), str(t.id)))
    return [Holder(t.reviewer.kind, t.reviewer.ref, t.assigned_at, t.due, t.id)
            for t in pending]


# The default template for a submittal: one step, the project's managers, any one of them,
# the statuses today's shop-drawing decisions lead to.
def single_reviewer_template(role: str, outcomes: Sequence[tuple[str, str]],
                             days: int = 5) -> Template:
    return parse_template([{"label": label, "status": status} for label, status in outcomes],
                          [{"name": "Review", "rule": "any", "days": days,
                            "reviewers": [{"kind": "role", "ref": role}]}])
