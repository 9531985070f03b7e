"""SQL of material specifications."""

from __future__ import annotations

import uuid
from typing import Literal

import asyncpg

from db.queries.rows import Records

SPECS = Records("material_specs", filters=("project_id", "status", "category"))
list_specs = SPECS.page
get_spec = SPECS.one


async def parties(conn: asyncpg.Connection,
                  spec: asyncpg.Record) -> dict[Literal["submitter", "reviewer"], uuid.UUID | None]:
    """The spec's two workflow parties: who last submitted it (else its author), and who
    decides on it (the project manager, else the project's first project-manager member)."""
    row = await conn.fetchrow(
        """SELECT (SELECT a.user_id FROM audit_logs a
                   WHERE a.table_name = 'material_specs' AND a.record_id = $1
                     AND a.action = 'transition' AND a.details->>'action' = 'submit'
                   ORDER BY a.id DESC LIMIT 1) AS submitter,
                  coalesce((SELECT p.project_manager_id FROM projects p WHERE p.id = $2),
                           (SELECT m.user_id FROM project_members m
                            WHERE m.project_id = $2 AND m.role = 'project_manager'
                            ORDER BY m.created_at, m.id LIMIT 1)) AS reviewer""",
        spec["id"], spec["project_id"])
    assert row is not None
    return {"submitter": row["submitter"] or spec["created_by"], "reviewer": row["reviewer"]}
