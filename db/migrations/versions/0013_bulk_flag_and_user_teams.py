"""Bulk imports marked by a server-only setting; client users see only their project teams.

1. `audit_logs.bulk`: the audit trigger copies the transaction-local setting `app.bulk`
   (set only by the server's importer, in `system_transaction(..., bulk=True)`) into the
   row. The change leader decides "do not send row by row" from this column, never from
   the client-supplied request id as before.
2. Row-level security on `users`: staff still read every user of their organisation; a
   client user reads themselves and the members, managers and creators of the projects
   they can see, so REST, mentions and anything else reading `users` agree.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUDIT_ROW = """
CREATE OR REPLACE FUNCTION fpm_audit_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
    bookkeeping constant text[] := '{version,updated_at,search_vector}';
    old_j jsonb;
    new_j jsonb;
    rec jsonb;
    changed text[];
    audit_id bigint;
    org uuid;
    project uuid;
BEGIN
    IF TG_OP <> 'INSERT' THEN old_j := to_jsonb(OLD) - 'search_vector'; END IF;
    IF TG_OP <> 'DELETE' THEN new_j := to_jsonb(NEW) - 'search_vector'; END IF;
    IF TG_OP = 'UPDATE' THEN
        SELECT array_agg(n.key ORDER BY n.key) INTO changed
        FROM jsonb_each(new_j) AS n
        WHERE n.key <> ALL (bookkeeping) AND n.value IS DISTINCT FROM old_j -> n.key;
        IF changed IS NULL THEN
            RETURN NULL;
        END IF;
    END IF;
    IF TG_TABLE_NAME = 'users' THEN  -- the only table with a secret column
        IF old_j->>'password_hash' IS NOT NULL THEN
            old_j := jsonb_set(old_j, '{password_hash}', '"[redacted]"');
        END IF;
        IF new_j->>'password_hash' IS NOT NULL THEN
            new_j := jsonb_set(new_j, '{password_hash}', '"[redacted]"');
        END IF;
    END IF;
    rec := coalesce(new_j, old_j);
    org := CASE WHEN TG_TABLE_NAME = 'organizations' THEN rec->>'id' ELSE rec->>'org_id' END;
    project := CASE WHEN TG_TABLE_NAME = 'projects' THEN rec->>'id' ELSE rec->>'project_id' END;
    INSERT INTO audit_logs (org_id, project_id, table_name, record_id, action, old_values,
                            new_values, changed_fields, user_id, request_id, origin_sid, ip,
                            user_agent, bulk)
    VALUES (org, project, TG_TABLE_NAME, (rec->>'id')::uuid, lower(TG_OP), old_j, new_j,
            changed, nullif(current_setting('app.user_id', true), '')::uuid,
            nullif(current_setting('app.request_id', true), ''),
            nullif(current_setting('app.origin_sid', true), ''),
            nullif(current_setting('app.ip', true), '')::inet,
            nullif(current_setting('app.user_agent', true), ''),
            coalesce(nullif(current_setting('app.bulk', true), '')::boolean, false))
    RETURNING id INTO audit_id;
    -- The doorbell, unless the change leader is awake and draining anyway.
    IF NOT coalesce((SELECT listener_awake FROM realtime_state WHERE id = 1), false) THEN
        PERFORM pg_notify('formula_pm_changes',
            json_build_object('id', audit_id, 't', TG_TABLE_NAME, 'p', project, 'o', org)::text);
    END IF;
    RETURN NULL;
END $$
"""

# The users a caller may read: NULL for staff (every user of the org); for a client user,
# themselves and the team (members, manager, creator) of every project they can see.
VISIBLE_USERS = """
CREATE FUNCTION app_visible_user_ids() RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    SELECT CASE WHEN u.role <> 'client' THEN NULL ELSE ARRAY(
        SELECT u.id
        UNION SELECT m.user_id FROM project_members m
              WHERE m.project_id = ANY (app_visible_project_ids())
        UNION SELECT p.project_manager_id FROM projects p
              WHERE p.id = ANY (app_visible_project_ids()) AND p.project_manager_id IS NOT NULL
        UNION SELECT p.created_by FROM projects p
              WHERE p.id = ANY (app_visible_project_ids()) AND p.created_by IS NOT NULL)
    END
    FROM users u WHERE u.id = app_user_id() AND u.org_id = app_org_id()
$$
"""

# ALTER, not DROP and CREATE: the policy keeps the roles it applies to (the application
# role only, once the system role passes RLS by a policy of its own rather than BYPASSRLS;
# the definer function, run as the system role, must never meet this policy: recursion).
OLD_POLICY = "ALTER POLICY tenant ON users USING (org_id = app_org_id())"
# One evaluation per statement (initplans), not one per row.
NEW_POLICY = """ALTER POLICY tenant ON users USING (org_id = app_org_id() AND
    coalesce(id = ANY ((SELECT app_visible_user_ids())::uuid[]),
             (SELECT app_visible_user_ids()) IS NULL))"""


def _previous_audit_row() -> str:
    previous = importlib.import_module("db.migrations.versions.0012_lean_triggers")
    return str(previous.AUDIT_ROW)


def upgrade() -> None:
    op.execute("ALTER TABLE audit_logs ADD COLUMN bulk boolean NOT NULL DEFAULT false")
    op.execute(AUDIT_ROW)
    op.execute(VISIBLE_USERS)
    op.execute("ALTER FUNCTION app_visible_user_ids() OWNER TO formula_pm_system")
    op.execute("REVOKE ALL ON FUNCTION app_visible_user_ids() FROM PUBLIC")
    op.execute("GRANT EXECUTE ON FUNCTION app_visible_user_ids() "
               "TO formula_pm_app, formula_pm_system")
    op.execute(NEW_POLICY)


def downgrade() -> None:
    op.execute(OLD_POLICY)
    op.execute("DROP FUNCTION app_visible_user_ids()")
    op.execute(_previous_audit_row())
    op.execute("ALTER TABLE audit_logs DROP COLUMN bulk")
