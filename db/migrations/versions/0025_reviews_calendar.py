"""Calendars: the organisation's time zone, working weekdays and holidays, and a project's
own time zone (issue #23, item 2). Every "day" the service reasons about (due dates, "due
tomorrow", overdue) is a date in the project's zone: `projects.time_zone` when set, else the
organisation's.

The columns ride on audited tables (organizations, projects): a change is an audit row and an
event like any other change of those records; row-level security is theirs.

Revision ID: 0025
Revises: 0023 (0024 once the branch that writes it is merged; see the report)
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UP = """
ALTER TABLE organizations
    ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC',
    ADD COLUMN workdays smallint[] NOT NULL DEFAULT '{1,2,3,4,5}',
    ADD COLUMN holidays date[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT ck_organizations_time_zone CHECK (length(time_zone) BETWEEN 1 AND 64),
    ADD CONSTRAINT ck_organizations_workdays
        CHECK (cardinality(workdays) BETWEEN 1 AND 7 AND workdays <@ '{1,2,3,4,5,6,7}'),
    ADD CONSTRAINT ck_organizations_holidays CHECK (cardinality(holidays) <= 1000);
ALTER TABLE projects
    ADD COLUMN time_zone text,
    ADD CONSTRAINT ck_projects_time_zone
        CHECK (time_zone IS NULL OR length(time_zone) BETWEEN 1 AND 64);
"""

DOWN = """
ALTER TABLE projects DROP COLUMN time_zone;
ALTER TABLE organizations DROP COLUMN holidays, DROP COLUMN workdays, DROP COLUMN time_zone;
"""


def _run(script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    _run(UP)


def downgrade() -> None:
    _run(DOWN)
