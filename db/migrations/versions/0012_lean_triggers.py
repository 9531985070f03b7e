"""Leaner audit path: fewer audit indexes, one SECURITY DEFINER call per row, no-op updates
skipped by a WHEN clause instead of a function call.

Measured with bench/trigger_cost.py (BENCHMARKS.md): the audit insert's index maintenance and
the extra function calls (redaction, doorbell) were most of the triggers' cost.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The audited tables at this revision, frozen here (never imported from db/schema.py).
AUDITED_TABLES = (
    "organizations", "clients", "users", "projects", "project_members", "tasks",
    "scope_groups", "scope_items", "shop_drawings", "shop_drawing_revisions", "material_specs",
    "item_links", "comments", "mentions", "attachments", "notifications",
)

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
                            user_agent)
    VALUES (org, project, TG_TABLE_NAME, (rec->>'id')::uuid, lower(TG_OP), old_j, new_j,
            changed, nullif(current_setting('app.user_id', true), '')::uuid,
            nullif(current_setting('app.request_id', true), ''),
            nullif(current_setting('app.origin_sid', true), ''),
            nullif(current_setting('app.ip', true), '')::inet,
            nullif(current_setting('app.user_agent', true), ''))
    RETURNING id INTO audit_id;
    -- The doorbell, unless the change leader is awake and draining anyway.
    IF NOT coalesce((SELECT listener_awake FROM realtime_state WHERE id = 1), false) THEN
        PERFORM pg_notify('formula_pm_changes',
            json_build_object('id', audit_id, 't', TG_TABLE_NAME, 'p', project, 'o', org)::text);
    END IF;
    RETURN NULL;
END $$
"""

# Redundant with ix_audit_logs_org_id_at; user filters run within an org's time range.
DROPPED = ("ix_audit_logs_org_id", "ix_audit_logs_user_id_at")


def upgrade() -> None:
    op.execute(AUDIT_ROW)
    for name in DROPPED:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    for table in AUDITED_TABLES:
        op.execute(f"DROP TRIGGER fpm_audit ON {table}")
        op.execute(f"""CREATE TRIGGER fpm_audit AFTER INSERT OR DELETE ON {table}
                       FOR EACH ROW EXECUTE FUNCTION fpm_audit_row()""")
        # The BEFORE trigger bumps the version only when something changed: a no-op UPDATE
        # never even calls the audit function.
        op.execute(f"""CREATE TRIGGER fpm_audit_update AFTER UPDATE ON {table}
                       FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version)
                       EXECUTE FUNCTION fpm_audit_row()""")


def downgrade() -> None:
    for table in AUDITED_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS fpm_audit_update ON {table}")
        op.execute(f"DROP TRIGGER fpm_audit ON {table}")
        op.execute(f"""CREATE TRIGGER fpm_audit AFTER INSERT OR UPDATE OR DELETE ON {table}
                       FOR EACH ROW EXECUTE FUNCTION fpm_audit_row()""")
    op.execute("CREATE INDEX ix_audit_logs_org_id ON audit_logs (org_id)")
    op.execute("CREATE INDEX ix_audit_logs_user_id_at ON audit_logs (user_id, at)")
    op.execute(AUDIT_ROW.replace("""    IF TG_TABLE_NAME = 'users' THEN  -- the only table with a secret column
        IF old_j->>'password_hash' IS NOT NULL THEN
            old_j := jsonb_set(old_j, '{password_hash}', '"[redacted]"');
        END IF;
        IF new_j->>'password_hash' IS NOT NULL THEN
            new_j := jsonb_set(new_j, '{password_hash}', '"[redacted]"');
        END IF;
    END IF;
""", "").replace("old_j, new_j,\n            changed,",
                 "fpm_redact(old_j), fpm_redact(new_j),\n            changed,"))
