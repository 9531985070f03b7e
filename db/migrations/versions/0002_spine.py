"""The spine: roles, version/audit/doorbell triggers, row-level security, grants and views.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import re
from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables as they were at this revision, frozen here: a table added to db/schema.py later
# gets its triggers, policies and grants from its own migration, never from this one.
ORG_TABLES = ("organizations", "clients", "users")
PROJECT_TABLES = (
    "projects", "project_members", "tasks", "scope_groups", "scope_items", "shop_drawings",
    "shop_drawing_revisions", "material_specs", "item_links", "comments", "mentions",
    "attachments",
)
USER_TABLES = ("notifications",)
AUDITED_TABLES = ORG_TABLES + PROJECT_TABLES + USER_TABLES
SYSTEM_TABLES = (
    "user_sessions", "password_tokens", "idempotency_keys", "realtime_cursor", "realtime_state",
)

# Roles are cluster-wide and shared by every database on the server: created only when
# missing (two test databases may migrate at once; a DBA may have created them from
# `formula-pm roles-sql`, and then the login needs no role privilege at all), never dropped
# by a downgrade, and never with SUPERUSER or BYPASSRLS: managed services grant neither, and
# the system role passes row-level security through its own policies (revision 0017).
ROLES = """
DO $$
DECLARE
    name text;
    can_set text := CASE WHEN current_setting('server_version_num')::int >= 160000
                         THEN 'SET' ELSE 'MEMBER' END;
BEGIN
    FOREACH name IN ARRAY ARRAY['formula_pm_app', 'formula_pm_system'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', name);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
            END;
        END IF;
        IF NOT pg_has_role(current_user, name, can_set) THEN
            -- PostgreSQL 16+ gives a role's creator ADMIN on it without SET: ask for SET.
            EXECUTE format('GRANT %I TO %I', name, current_user)
                || CASE WHEN can_set = 'SET' THEN ' WITH INHERIT TRUE, SET TRUE' ELSE '' END;
        END IF;
    END LOOP;
END $$;
GRANT USAGE ON SCHEMA public TO formula_pm_app;
GRANT USAGE, CREATE ON SCHEMA public TO formula_pm_system;
"""

# Actor settings are transaction-local; '' (not NULL) on a connection that once set them.
ACTOR_FUNCTIONS = """
CREATE FUNCTION app_user_id() RETURNS uuid LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT nullif(current_setting('app.user_id', true), '')::uuid $$;

CREATE FUNCTION app_org_id() RETURNS uuid LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT nullif(current_setting('app.org_id', true), '')::uuid $$;

-- The one place that decides project visibility (RLS policies and socket subscriptions).
-- SECURITY DEFINER owned by a BYPASSRLS role, so the policies on project_members do not recurse.
CREATE FUNCTION app_is_org_admin() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    SELECT EXISTS (
        SELECT 1 FROM users u
        WHERE u.id = app_user_id() AND u.org_id = app_org_id()
          AND u.role = 'admin' AND u.status = 'active')
$$;

CREATE FUNCTION app_user_client_id() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    SELECT u.client_id FROM users u
    WHERE u.id = app_user_id() AND u.org_id = app_org_id() AND u.status = 'active'
$$;

CREATE FUNCTION app_visible_project_ids() RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
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
$$;

CREATE FUNCTION app_can_see_project(project uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$ SELECT project = ANY (app_visible_project_ids()) $$;
"""

TRIGGER_FUNCTIONS = """
-- BEFORE UPDATE: bump version and updated_at, unless nothing but bookkeeping changed.
CREATE FUNCTION fpm_touch_row() RETURNS trigger LANGUAGE plpgsql
AS $$
DECLARE
    bookkeeping constant text[] := '{version,updated_at,search_vector}';
BEGIN
    IF (to_jsonb(NEW) - bookkeeping) = (to_jsonb(OLD) - bookkeeping) THEN
        NEW.version := OLD.version;
        NEW.updated_at := OLD.updated_at;
    ELSE
        NEW.version := OLD.version + 1;
        NEW.updated_at := clock_timestamp();
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION fpm_redact(row_values jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE
        WHEN row_values IS NULL THEN NULL
        WHEN row_values ? 'password_hash' AND row_values->'password_hash' <> 'null'::jsonb
            THEN jsonb_set(row_values - 'search_vector', '{password_hash}', '"[redacted]"')
        ELSE row_values - 'search_vector'
    END
$$;

-- Rings the doorbell unless the change leader is awake and draining anyway.
CREATE FUNCTION fpm_ring(audit_id bigint, tbl text, project uuid, org uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
BEGIN
    IF NOT coalesce((SELECT listener_awake FROM realtime_state WHERE id = 1), false) THEN
        PERFORM pg_notify('formula_pm_changes',
            json_build_object('id', audit_id, 't', tbl, 'p', project, 'o', org)::text);
    END IF;
END $$;

-- AFTER row trigger: one audit row per changed row, then the doorbell.
CREATE FUNCTION fpm_audit_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
    bookkeeping constant text[] := '{version,updated_at,search_vector}';
    old_j jsonb;
    new_j jsonb;
    rec jsonb;
    changed text[];
    org uuid;
    project uuid;
    audit_id bigint;
BEGIN
    IF TG_OP <> 'INSERT' THEN old_j := to_jsonb(OLD); END IF;
    IF TG_OP <> 'DELETE' THEN new_j := to_jsonb(NEW); END IF;
    IF TG_OP = 'UPDATE' THEN
        SELECT array_agg(n.key ORDER BY n.key) INTO changed
        FROM jsonb_each(new_j) AS n
        WHERE n.key <> ALL (bookkeeping) AND n.value IS DISTINCT FROM old_j -> n.key;
        IF changed IS NULL THEN
            RETURN NULL;
        END IF;
    END IF;
    rec := coalesce(new_j, old_j);
    org := CASE WHEN TG_TABLE_NAME = 'organizations' THEN rec->>'id' ELSE rec->>'org_id' END;
    project := CASE WHEN TG_TABLE_NAME = 'projects' THEN rec->>'id' ELSE rec->>'project_id' END;
    INSERT INTO audit_logs (org_id, project_id, table_name, record_id, action, old_values,
                            new_values, changed_fields, user_id, request_id, origin_sid, ip,
                            user_agent)
    VALUES (org, project, TG_TABLE_NAME, (rec->>'id')::uuid, lower(TG_OP), fpm_redact(old_j),
            fpm_redact(new_j), changed, app_user_id(),
            nullif(current_setting('app.request_id', true), ''),
            nullif(current_setting('app.origin_sid', true), ''),
            nullif(current_setting('app.ip', true), '')::inet,
            nullif(current_setting('app.user_agent', true), ''))
    RETURNING id INTO audit_id;
    PERFORM fpm_ring(audit_id, TG_TABLE_NAME, project, org);
    RETURN NULL;
END $$;

-- User actions (login, logout, failed login, export, view) and system events
-- (startup, shutdown, leader change) go into the same append-only log.
CREATE FUNCTION fpm_record_event(
    p_action text, p_org uuid, p_user uuid, p_details jsonb DEFAULT NULL,
    p_table text DEFAULT NULL, p_record uuid DEFAULT NULL, p_project uuid DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
    audit_id bigint;
BEGIN
    IF p_action IN ('insert', 'update', 'delete') THEN
        RAISE EXCEPTION 'row changes are recorded by the audit trigger, not by hand';
    END IF;
    INSERT INTO audit_logs (org_id, project_id, table_name, record_id, action, user_id,
                            request_id, ip, user_agent, details)
    VALUES (p_org, p_project, p_table, p_record, p_action, p_user,
            nullif(current_setting('app.request_id', true), ''),
            nullif(current_setting('app.ip', true), '')::inet,
            nullif(current_setting('app.user_agent', true), ''), p_details)
    RETURNING id INTO audit_id;
    RETURN audit_id;
END $$;
"""

DEFINER_FUNCTIONS = (
    "app_is_org_admin()", "app_user_client_id()", "app_visible_project_ids()",
    "app_can_see_project(uuid)", "fpm_ring(bigint, text, uuid, uuid)", "fpm_audit_row()",
    "fpm_record_event(text, uuid, uuid, jsonb, text, uuid, uuid)",
)

ORG = "org_id = app_org_id()"
ADMIN_OR_VISIBLE = (
    "((SELECT app_is_org_admin()) OR {col} = ANY ((SELECT app_visible_project_ids())::uuid[]))"
)


def _policies() -> list[str]:
    """One statement per policy: org isolation everywhere, project visibility where owned."""
    sql = [
        "CREATE POLICY tenant ON organizations USING (id = app_org_id())",
        f"""CREATE POLICY tenant ON clients USING ({ORG} AND ((SELECT app_user_client_id())
            IS NULL OR id = (SELECT app_user_client_id())))""",
        f"CREATE POLICY tenant ON users USING ({ORG})",
        f"""CREATE POLICY read ON projects FOR SELECT USING ({ORG} AND
            ({ADMIN_OR_VISIBLE.format(col="id")} OR created_by = app_user_id()))""",
        f"CREATE POLICY add ON projects FOR INSERT WITH CHECK ({ORG})",
        f"""CREATE POLICY change ON projects FOR UPDATE USING ({ORG} AND
            {ADMIN_OR_VISIBLE.format(col="id")}) WITH CHECK ({ORG})""",
        f"""CREATE POLICY remove ON projects FOR DELETE USING ({ORG} AND
            {ADMIN_OR_VISIBLE.format(col="id")})""",
        f"""CREATE POLICY own ON notifications USING ({ORG} AND user_id = app_user_id())
            WITH CHECK ({ORG})""",
        f"CREATE POLICY notify ON notifications FOR INSERT WITH CHECK ({ORG})",
        f"""CREATE POLICY read ON audit_logs FOR SELECT USING ({ORG} AND
            ((SELECT app_is_org_admin()) OR (project_id IS NOT NULL AND
              project_id = ANY ((SELECT app_visible_project_ids())::uuid[]))))""",
    ]
    for table in PROJECT_TABLES:
        if table != "projects":
            sql.append(f"""CREATE POLICY tenant ON {table} USING ({ORG} AND
                {ADMIN_OR_VISIBLE.format(col="project_id")})""")
    return sql


PROJECT_SUMMARY = """
CREATE VIEW project_summary {options} AS
SELECT p.id AS project_id, p.org_id, p.name, p.status, p.progress, p.budget,
       coalesce(t.total, 0) AS tasks_total,
       coalesce(t.by_status, '{{}}'::jsonb) AS tasks_by_status,
       coalesce(t.overdue, 0) AS tasks_overdue,
       coalesce(s.items, 0) AS scope_items_total,
       coalesce(s.avg_completion, 0) AS scope_completion,
       coalesce(s.total_price, 0) AS scope_value,
       coalesce(m.committed, 0) AS committed_material_cost,
       p.budget - coalesce(m.committed, 0) AS budget_remaining,
       coalesce(m.by_status, '{{}}'::jsonb) AS specs_by_status,
       coalesce(d.by_status, '{{}}'::jsonb) AS drawings_by_status,
       coalesce(d.awaiting, 0) AS drawings_awaiting_action,
       coalesce(tm.size, 0) AS team_size
FROM projects p
LEFT JOIN LATERAL (
    SELECT sum(n)::int AS total, jsonb_object_agg(status, n) AS by_status,
           sum(overdue)::int AS overdue
    FROM (SELECT status, count(*) AS n,
                 count(*) FILTER (WHERE due_date < current_date
                                  AND status NOT IN ('completed', 'cancelled')) AS overdue
          FROM tasks WHERE project_id = p.id GROUP BY status) x
) t ON true
LEFT JOIN LATERAL (
    SELECT count(*)::int AS items, round(avg(completion), 1) AS avg_completion,
           sum(coalesce(total_price, quantity * unit_price, 0)) AS total_price
    FROM scope_items WHERE project_id = p.id
) s ON true
LEFT JOIN LATERAL (
    SELECT sum(c) FILTER (WHERE status IN ('approved', 'ordered', 'in_stock', 'delivered',
                                           'used')) AS committed,
           jsonb_object_agg(status, n) AS by_status
    FROM (SELECT status, count(*) AS n,
                 sum(coalesce(total_cost, quantity * unit_cost, 0)) AS c
          FROM material_specs WHERE project_id = p.id GROUP BY status) x
) m ON true
LEFT JOIN LATERAL (
    SELECT jsonb_object_agg(status, n) AS by_status,
           sum(n) FILTER (WHERE status IN ('draft', 'submitted', 'in_review',
                                           'revise_and_resubmit', 'rejected'))::int AS awaiting
    FROM (SELECT status, count(*) AS n FROM shop_drawings
          WHERE project_id = p.id GROUP BY status) x
) d ON true
LEFT JOIN LATERAL (
    SELECT count(*)::int AS size FROM project_members WHERE project_id = p.id
) tm ON true
-- Explicit as well as through RLS: on PostgreSQL 14 (no security_invoker) the owner's
-- rights would otherwise apply.
WHERE p.org_id = app_org_id()
  AND ((SELECT app_is_org_admin()) OR p.id = ANY ((SELECT app_visible_project_ids())::uuid[]))
"""

PERFORMANCE_STATS = """
CREATE VIEW performance_stats AS
SELECT 'table'::text AS kind, s.relname::text AS name,
       pg_total_relation_size(s.relid) AS size_bytes, s.n_live_tup AS row_count,
       NULL::double precision AS value, NULL::bigint AS calls
FROM pg_stat_user_tables s
UNION ALL
SELECT 'cache_hit_ratio', current_database()::text, NULL, NULL,
       sum(blks_hit)::double precision / nullif(sum(blks_hit) + sum(blks_read), 0), NULL
FROM pg_stat_database WHERE datname = current_database()
{statements}
"""

SLOW_STATEMENTS = """
UNION ALL
SELECT * FROM (
    SELECT 'slow_statement', left(query, 500), NULL::bigint, NULL::bigint,
           mean_exec_time, calls
    FROM pg_stat_statements ORDER BY mean_exec_time DESC LIMIT 20) slow
"""


def _script(sql: str) -> None:
    """asyncpg prepares each statement: run a script one statement at a time."""
    for statement in re.split(r";\n(?=\s*(?:(?:CREATE|GRANT|DO)\b|--))", sql):
        if statement.strip():
            op.execute(statement)


def _has_extension(name: str) -> bool:
    bind = op.get_bind()
    return bool(bind.execute(
        text("SELECT 1 FROM pg_extension WHERE extname = :name"), {"name": name}).scalar())


def _server_version() -> int:
    return int(op.get_bind().exec_driver_sql("SHOW server_version_num").scalar() or 0)


def upgrade() -> None:
    _script(ROLES)
    _script(ACTOR_FUNCTIONS)
    _script(TRIGGER_FUNCTIONS)
    for signature in DEFINER_FUNCTIONS:
        op.execute(f"ALTER FUNCTION {signature} OWNER TO formula_pm_system")
    for signature in ("fpm_record_event(text, uuid, uuid, jsonb, text, uuid, uuid)",
                      "fpm_ring(bigint, text, uuid, uuid)"):
        op.execute(f"REVOKE EXECUTE ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO formula_pm_app, formula_pm_system")
    op.execute("INSERT INTO realtime_state (id) VALUES (1) ON CONFLICT DO NOTHING")
    op.execute("INSERT INTO realtime_cursor (id) VALUES (1) ON CONFLICT DO NOTHING")

    for table in AUDITED_TABLES:
        op.execute(f"""CREATE TRIGGER fpm_touch BEFORE UPDATE ON {table}
                       FOR EACH ROW EXECUTE FUNCTION fpm_touch_row()""")
        op.execute(f"""CREATE TRIGGER fpm_audit AFTER INSERT OR UPDATE OR DELETE ON {table}
                       FOR EACH ROW EXECUTE FUNCTION fpm_audit_row()""")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO formula_pm_app")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO formula_pm_system")
    op.execute("ALTER TABLE audit_logs ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE audit_logs FORCE ROW LEVEL SECURITY")
    # Append-only: no role of the application may change or remove an audit row.
    op.execute("REVOKE ALL ON audit_logs FROM PUBLIC")
    op.execute("GRANT SELECT ON audit_logs TO formula_pm_app")
    op.execute("GRANT SELECT, INSERT ON audit_logs TO formula_pm_system")
    op.execute("GRANT USAGE ON SEQUENCE audit_logs_id_seq TO formula_pm_system")
    for table in SYSTEM_TABLES:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO formula_pm_system")
    for statement in _policies():
        op.execute(statement)

    invoker = "WITH (security_invoker = true)" if _server_version() >= 150000 else ""
    op.execute(PROJECT_SUMMARY.format(options=invoker))
    op.execute("GRANT SELECT ON project_summary TO formula_pm_app, formula_pm_system")
    statements = SLOW_STATEMENTS if _has_extension("pg_stat_statements") else ""
    op.execute(PERFORMANCE_STATS.format(statements=statements))
    op.execute("GRANT SELECT ON performance_stats TO formula_pm_system")
    # A forgotten open transaction holds back the change leader's snapshot horizon.
    op.execute("""DO $$ BEGIN EXECUTE format(
        'ALTER DATABASE %I SET idle_in_transaction_session_timeout = %L',
        current_database(), '60s'); END $$""")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS performance_stats")
    op.execute("DROP VIEW IF EXISTS project_summary")
    for table in (*ORG_TABLES, *PROJECT_TABLES, *USER_TABLES):
        op.execute(f"DROP TRIGGER IF EXISTS fpm_audit ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS fpm_touch ON {table}")
        for policy in ("tenant", "read", "add", "change", "remove", "own", "notify"):
            op.execute(f"DROP POLICY IF EXISTS {policy} ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.execute(f"REVOKE ALL ON {table} FROM formula_pm_app, formula_pm_system")
    op.execute("DROP POLICY IF EXISTS read ON audit_logs")
    op.execute("ALTER TABLE audit_logs NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE audit_logs DISABLE ROW LEVEL SECURITY")
    op.execute("REVOKE ALL ON audit_logs FROM formula_pm_app, formula_pm_system")
    op.execute("REVOKE ALL ON SEQUENCE audit_logs_id_seq FROM formula_pm_system")
    for table in SYSTEM_TABLES:
        op.execute(f"REVOKE ALL ON {table} FROM formula_pm_system")
    for function in (
        "fpm_record_event(text, uuid, uuid, jsonb, text, uuid, uuid)", "fpm_audit_row()",
        "fpm_ring(bigint, text, uuid, uuid)", "fpm_redact(jsonb)", "fpm_touch_row()",
        "app_can_see_project(uuid)", "app_visible_project_ids()", "app_user_client_id()",
        "app_is_org_admin()", "app_org_id()", "app_user_id()",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    op.execute("""DO $$ BEGIN EXECUTE format(
        'ALTER DATABASE %I RESET idle_in_transaction_session_timeout', current_database());
        END $$""")
    # The roles outlive the schema (shared by every database of the cluster); their grants
    # on this database's schema do not.
    op.execute("REVOKE USAGE ON SCHEMA public FROM formula_pm_app")
    op.execute("REVOKE USAGE, CREATE ON SCHEMA public FROM formula_pm_system")
