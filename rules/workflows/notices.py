"""Who holds the ball after a workflow step, and what the notification tells them.

Shop drawings follow `drawings.ball_in_court`: the reviewer (the drawing's reviewer, else
the project manager) once it is submitted or in review, the submitter once it is returned
(revise and resubmit, rejected) or reopened as a new revision. An approval closes the
drawing, so nobody holds the ball; the decision still goes back to the submitter, whose
work it settles. Material specs have the same two parties: the project manager decides on
a submitted spec; the submitter (whoever last submitted it, else its author) learns of the
decision. `void` and the procurement steps (order, receive, deliver, use) move no ball.
The actor is never notified of their own step (see `recipient`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Party = Literal["submitter", "reviewer"]

DRAWING_BALL: Mapping[str, Party] = {
    "submit": "reviewer", "start_review": "reviewer", "approve": "submitter",
    "approve_as_noted": "submitter", "request_revision": "submitter", "reject": "submitter",
    "new_revision": "submitter",
}
SPEC_BALL: Mapping[str, Party] = {
    "submit": "reviewer", "approve": "submitter", "request_revision": "submitter",
    "reject": "submitter",
}
_DONE = {
    "submit": "submitted {what} for review", "start_review": "started reviewing {what}",
    "approve": "approved {what}", "approve_as_noted": "approved {what} as noted",
    "request_revision": "asked for a revision of {what}", "reject": "rejected {what}",
    "new_revision": "opened {what} as a new revision",
}


@dataclass(frozen=True)
class Notice:
    kind: str
    title: str
    message: str


def recipient(party: Party | None, parties: Mapping[Party, uuid.UUID | None],
              actor: uuid.UUID) -> uuid.UUID | None:
    """The user who now holds the ball, unless that is the actor (or nobody)."""
    user = parties.get(party) if party else None
    return None if user is None or user == actor else user


def notice(action: str, what: str, actor_name: str, comment: str | None) -> Notice:
    """`what` names the record, e.g. `shop drawing AK-MM-001 (Rev A)`."""
    done = _DONE[action].format(what=what)
    message = f"{actor_name} {done}." + (f" {comment}" if comment else "")
    return Notice("ball_in_court", f"{actor_name} {done}"[:300], message[:2000])
