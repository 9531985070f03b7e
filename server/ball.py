"""Tell whoever now holds the ball of a workflow step, in the step's own transaction.

The notification row is written like a mention's (`db.queries.notifications.notify`), so
its audit row becomes the live `notification` event to `user:{id}` and it shows in the
recipient's notification list. Who holds the ball is decided in `rules.workflows.notices`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import asyncpg

from db.queries import notifications as notes
from db.queries.comments import author_name
from rules.workflows.machine import Transition
from rules.workflows.notices import Party, notice, recipient


async def pass_ball(conn: asyncpg.Connection, record: Mapping[str, object], *,
                    entity_type: str, what: str, step: Transition, party: Party | None,
                    parties: Mapping[Party, uuid.UUID | None], actor_id: uuid.UUID) -> None:
    """One notification to the party now holding the ball, unless it is nobody or the actor."""
    user = recipient(party, parties, actor_id)
    if user is None:
        return
    told = notice(step.action, what, await author_name(conn, actor_id), step.comment)
    org_id, project_id = record["org_id"], record["project_id"]
    assert isinstance(org_id, uuid.UUID) and isinstance(project_id, uuid.UUID)
    await notes.notify(
        conn, org_id=org_id, user_ids=[user], project_id=project_id, kind=told.kind,
        title=told.title, message=told.message,
        data={"entity_type": entity_type, "entity_id": str(record["id"]),
              "project_id": str(project_id), "action": step.action, "status": step.target,
              "by": str(actor_id)})
