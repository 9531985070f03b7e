"""SQL of shop drawings: rows with their derived parties, and the revision history."""

from __future__ import annotations

import uuid

import asyncpg

from db.queries.rows import Records, insert_row

# The submitter and reviewer behind "ball in court".
COLUMNS = """d.*,
       coalesce(d.submitted_by, d.created_by) AS submitter_id,
       coalesce(d.reviewed_by,
                (SELECT p.project_manager_id FROM projects p WHERE p.id = d.project_id),
                (SELECT m.user_id FROM project_members m
                 WHERE m.project_id = d.project_id AND m.role = 'project_manager'
                 ORDER BY m.created_at, m.id LIMIT 1)) AS reviewer_id"""
DRAWINGS = Records("shop_drawings d", filters=("project_id", "status", "drawing_type", "room"),
                   columns=COLUMNS, key="d.id")
list_drawings = DRAWINGS.page
get_drawing = DRAWINGS.one
REVISIONS = Records("shop_drawing_revisions", filters=("drawing_id",))


async def last_transition_comment(conn: asyncpg.Connection,
                                  drawing_id: uuid.UUID) -> str | None:
    """The comment of the latest transition (the reviewer's reason for returning it)."""
    comment: str | None = await conn.fetchval(
        """SELECT details->>'comment' FROM audit_logs
           WHERE table_name = 'shop_drawings' AND record_id = $1 AND action = 'transition'
           ORDER BY id DESC LIMIT 1""", drawing_id)
    return comment


async def close_revision(conn: asyncpg.Connection, drawing: asyncpg.Record,
                         comment: str | None, closed_by: uuid.UUID) -> asyncpg.Record:
    """Keep the current revision in the history, with the status it closed in."""
    return await insert_row(conn, "shop_drawing_revisions", {
        "org_id": drawing["org_id"], "project_id": drawing["project_id"],
        "drawing_id": drawing["id"], "revision": drawing["revision"],
        "status": drawing["status"], "comment": comment, "file_name": drawing["file_name"],
        "file_size": drawing["file_size"], "closed_by": closed_by,
    })

