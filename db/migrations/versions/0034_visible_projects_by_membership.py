"""app_visible_project_ids() from the user's own memberships, not every project's.

Every statement a member runs on a project's rows asks row-level security for the
projects they can see, and an UPDATE … RETURNING asks twice (its UPDATE and SELECT
policies). 0032's body joined the user to every project of the organisation and probed
project_members once per project: 100 projects, 100 index probes, about 0.29 ms a call —
the largest single cost in PostgreSQL of a member's PATCH (pg_stat_user_functions over
4,000 writes by 1,000 members: 2.3 s of 6.1 s in functions; project_members read 200 times
a write). Now the user's row is read once, then the organisation's projects once: all of
them for an admin, the client's for a client user, and for anyone else those they manage,
created or are a member of — the memberships read once by the user_id index into an
array, not probed project by project. Same answer for every user
(tests/db/test_visible_projects.py compares the two bodies on every kind of user).

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HEADER = """CREATE OR REPLACE FUNCTION app_visible_project_ids() RETURNS uuid[]
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$"""

BY_MEMBERSHIP = """
DECLARE
    me uuid := app_user_id();
    org uuid := app_org_id();
    my_role text;
    my_client uuid;
BEGIN
    SELECT u.role, u.client_id INTO my_role, my_client FROM users u
    WHERE u.id = me AND u.org_id = org AND u.status = 'active';
    IF NOT FOUND THEN
        RETURN '{}';
    ELSIF my_role = 'admin' THEN
        RETURN (SELECT coalesce(array_agg(p.id), '{}') FROM projects p WHERE p.org_id = org);
    ELSIF my_role = 'client' THEN
        RETURN (SELECT coalesce(array_agg(p.id), '{}') FROM projects p
                WHERE p.org_id = org AND p.client_id = my_client);
    END IF;
    -- The memberships are read once (an init plan, by the user_id index), not probed for
    -- every project of the organisation.
    RETURN (SELECT coalesce(array_agg(p.id), '{}') FROM projects p
            WHERE p.org_id = org
              AND (p.project_manager_id = me OR p.created_by = me
                   OR p.id = ANY (ARRAY(SELECT m.project_id FROM project_members m
                                        WHERE m.user_id = me))));
END
$$"""

# 0032's body, frozen here for the downgrade.
BY_PROJECT = """
BEGIN
    RETURN (
    SELECT coalesce(array_agg(p.id), '{}')
    FROM users u
    JOIN projects p ON p.org_id = u.org_id
    WHERE u.id = app_user_id() AND u.org_id = app_org_id() AND u.status = 'active'
      AND CASE
            WHEN u.role = 'admin' THEN true
            WHEN u.role = 'client' THEN p.client_id = u.client_id
            ELSE p.project_manager_id = u.id OR p.created_by = u.id
              OR EXISTS (SELECT 1 FROM project_members m
                         WHERE m.project_id = p.id AND m.user_id = u.id)
          END
    );
END
$$"""


def upgrade() -> None:
    op.execute(HEADER + BY_MEMBERSHIP)


def downgrade() -> None:
    op.execute(HEADER + BY_PROJECT)
