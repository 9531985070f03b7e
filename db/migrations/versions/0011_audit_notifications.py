"""Audit rows of notifications are readable only by their recipient (and org admins).

Notification rows carry a project_id, so the project-visibility rule alone let every member
of the project read other people's notifications through the audit log.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VISIBLE = "project_id = ANY ((SELECT app_visible_project_ids())::uuid[])"
OLD = f"""CREATE POLICY read ON audit_logs FOR SELECT USING (org_id = app_org_id() AND
    ((SELECT app_is_org_admin()) OR (project_id IS NOT NULL AND {VISIBLE})))"""
NEW = f"""CREATE POLICY read ON audit_logs FOR SELECT USING (org_id = app_org_id() AND
    ((SELECT app_is_org_admin()) OR (project_id IS NOT NULL AND {VISIBLE} AND
      (table_name IS DISTINCT FROM 'notifications'
       OR coalesce(new_values, old_values)->>'user_id' = app_user_id()::text))))"""  # noqa: S608 - VISIBLE, a constant


def upgrade() -> None:
    op.execute("DROP POLICY read ON audit_logs")
    op.execute(NEW)


def downgrade() -> None:
    op.execute("DROP POLICY read ON audit_logs")
    op.execute(OLD)
