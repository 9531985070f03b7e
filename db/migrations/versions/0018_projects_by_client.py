"""Projects by client and status: what a client user's project list and the visibility
function look up (the seed database's production index, missing until now).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_projects_client_id_status", "projects", ["client_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_projects_client_id_status", table_name="projects")
