"""A user's own bookkeeping columns change no version: a sign-in is not a change of the user.

`users.last_login_at` is written on every sign-in. Counted as a change, it bumped the
version, so the audit trigger logged the user row and the change feed broadcast
`user.updated` with the sign-in time to every staff socket of the organisation (client
users' sign-ins included). The sign-in itself stays on the audit trail as the `login`
event that the sign-in route records.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here: the columns whose change alone leaves version and updated_at alone (and so
# never reaches the audit trigger, which fires only when the version moves).
TOUCH_ROW = """
CREATE OR REPLACE FUNCTION fpm_touch_row() RETURNS trigger LANGUAGE plpgsql
AS $$
DECLARE
    bookkeeping constant text[] := '{{{columns}}}';
BEGIN
    IF (to_jsonb(NEW) - bookkeeping) = (to_jsonb(OLD) - bookkeeping) THEN
        NEW.version := OLD.version;
        NEW.updated_at := OLD.updated_at;
    ELSE
        NEW.version := OLD.version + 1;
        NEW.updated_at := clock_timestamp();
    END IF;
    RETURN NEW;
END $$
"""
BEFORE = ("version", "updated_at", "search_vector")
AFTER = (*BEFORE, "last_login_at")


def upgrade() -> None:
    op.execute(TOUCH_ROW.format(columns=",".join(AFTER)))


def downgrade() -> None:
    op.execute(TOUCH_ROW.format(columns=",".join(BEFORE)))
