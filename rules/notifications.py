"""Notification preferences, reminders and the daily digest, pure.

Channels, per user, per project (or for all projects) and per kind:
- `live`: the notification row (the list, the unread count) and the live `notification`
  event to the user's sockets;
- `email`: the same, and an e-mail at once;
- `digest`: the same, and the notification in the next daily digest e-mail;
- `off`: nothing at all — no row, no event, no mail.
`action_required` (the daily reminders) can never be `off`.

Reminders: a task with a due date, still open and in someone's court, is reminded to each of
its people once a day (a day in the project's zone) from the day before it is due (the
working day before: on a Friday, a task due Monday is due tomorrow), on the day, and every
day it is overdue, for at most 45 days past the due date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rules.calendar import Calendar, due_state
from rules.errors import InvalidInput

ACTION_REQUIRED = "action_required"
# Every kind a notification may have; action_required is the daily reminder's.
KINDS = (ACTION_REQUIRED, "ball_in_court", "review_task", "rfi_open", "rfi_answered",
         "task_assigned", "mention", "member_removed", "transmittal", "drawing_superseded",
         "procurement_risk", "punch_item")
CHANNELS = ("live", "email", "digest", "off")
MAILED = ("email", "digest")
DEFAULTS: Mapping[str, str] = {kind: ("email" if kind == ACTION_REQUIRED else "live")
                               for kind in KINDS}
CHANGES_MAX = 200  # preferences one PUT may write
DIGEST_SHOWN = 100  # notifications a digest lists; the rest are counted
REMINDER_DAYS = 45  # no reminder more than this many days after the due date
SEND_HOUR = 7  # reminders and digests go out from 07:00 local time
# What a reminder may be about: task kinds, as stored in reminders_sent.
TASK_KINDS = ("task", "review_task", "rfi")


@dataclass(frozen=True)
class Change:
    """One preference to write: `channel` None removes it (the default applies again)."""

    project_id: Any  # a project id, or None for all projects
    kind: str
    channel: str | None


def check_changes(items: Sequence[Mapping[str, Any]]) -> list[Change]:
    """Checked preferences from a request's items (`project_id`, `kind`, `channel`); every bad
    item named (`preferences[3].kind`) in one InvalidInput."""
    errors: list[dict[str, str]] = []
    seen: set[tuple[Any, str]] = set()
    changes: list[Change] = []
    if len(items) > CHANGES_MAX:
        raise InvalidInput(f"At most {CHANGES_MAX} preferences at once",
                           code="too_many_preferences",
                           errors=[{"field": "preferences", "message": f"at most {CHANGES_MAX}"}])
    for i, item in enumerate(items):
        where = f"preferences[{i}]"
        kind, channel, project = item.get("kind"), item.get("channel"), item.get("project_id")
        if kind not in KINDS:
            errors.append({"field": f"{where}.kind",
                           "message": f"one of {', '.join(KINDS)}"})
            continue
        if channel is not None and channel not in CHANNELS:
            errors.append({"field": f"{where}.channel",
                           "message": f"one of {', '.join(CHANNELS)} or null"})
            continue
        if kind == ACTION_REQUIRED and channel == "off":
            errors.append({"field": f"{where}.channel",
                           "message": "action_required cannot be turned off"})
            continue
        if (project, kind) in seen:
            errors.append({"field": f"{where}.kind",
                           "message": "named twice for the same project"})
            continue
        seen.add((project, kind))
        changes.append(Change(project, kind, channel))
    if errors:
        code = ("action_required_always_on" if any("turned off" in e["message"] for e in errors)
                else "invalid_preferences")
        raise InvalidInput("Some preferences are not valid", code=code, errors=errors)
    return changes


def effective(rows: Iterable[Mapping[str, Any]], project_id: Any) -> list[dict[str, str]]:
    """Every kind's channel for one project (None: the all-projects defaults) from the user's
    stored rows, with where it comes from: `project`, `all_projects` or `default`."""
    mine = {(r["project_id"], r["kind"]): r["channel"] for r in rows}
    out = []
    for kind in KINDS:
        if project_id is not None and (project_id, kind) in mine:
            out.append({"kind": kind, "channel": mine[(project_id, kind)], "source": "project"})
        elif (None, kind) in mine:
            out.append({"kind": kind, "channel": mine[(None, kind)], "source": "all_projects"})
        else:
            out.append({"kind": kind, "channel": DEFAULTS[kind], "source": "default"})
    return out


def reminder_state(cal: Calendar, due: dt.date, today: dt.date) -> str | None:
    """Whether a task due on `due` is reminded on `today` (a date in the project's zone, once
    it is past SEND_HOUR there): `due_tomorrow`, `due_today` or `overdue`, else None (not due
    soon, or more than REMINDER_DAYS overdue)."""
    if (today - due).days > REMINDER_DAYS:
        return None
    state = due_state(cal, due, today)
    return None if state == "upcoming" else state


_WHAT = {"task": "Task", "review_task": "Review", "rfi": "RFI"}


def reminder_text(task_kind: str, name: str, due: dt.date, state: str,
                  today: dt.date) -> tuple[str, str]:
    """The title and message of an "action required" reminder."""
    what = _WHAT[task_kind]
    if state == "overdue":
        days = (today - due).days
        when = f"overdue by {days} day{'s' if days != 1 else ''} (due {due.isoformat()})"
    elif state == "due_today":
        when = "due today"
    else:
        when = f"due {due.isoformat()}"
    title = f"Action required: {what} {name}"[:280] + f" — {when}"
    return title[:300], f"{what} \"{name[:200]}\" is {when}."


def escape(text: str) -> str:
    """Text safe inside HTML elements and attribute values (what `html.escape` does)."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#x27;"))


@dataclass(frozen=True)
class DigestItem:
    kind: str
    title: str
    message: str
    project: str | None
    at: dt.datetime


def digest(name: str, day: dt.date, items: Sequence[DigestItem]) -> tuple[str, str, str]:
    """The daily digest's subject, plain-text body and HTML body. Everything user-written is
    escaped in the HTML."""
    count = len(items)
    subject = f"Formula PM digest for {day.isoformat()}: {count} notification" + \
        ("s" if count != 1 else "")
    lines = [f"Hello {name},", "", f"Your notifications of the last day ({count}):", ""]
    rows = []
    for item in items[:DIGEST_SHOWN]:
        where = f" [{item.project}]" if item.project else ""
        lines.append(f"- {item.title}{where}")
        if item.message:
            lines.append(f"  {item.message}")
        rows.append(
            "<li><strong>" + escape(item.title) + "</strong>"
            + (f" <em>{escape(item.project)}</em>" if item.project else "")
            + (f"<br>{escape(item.message)}" if item.message else "") + "</li>")
    more = count - DIGEST_SHOWN
    if more > 0:
        lines.append(f"... and {more} more in Formula PM.")
        rows.append(f"<li>... and {more} more in Formula PM.</li>")
    lines += ["", "Change what reaches you and how: your notification preferences."]
    body_html = (
        "<!doctype html><html><body>"
        f"<p>Hello {escape(name)},</p>"
        f"<p>Your notifications of the last day ({count}):</p>"
        f"<ul>{''.join(rows)}</ul>"
        "<p>Change what reaches you and how: your notification preferences.</p>"
        "</body></html>")
    return subject, "\n".join(lines) + "\n", body_html
