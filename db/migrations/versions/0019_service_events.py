"""Service events readable where they should be, and database statistics that never fail.

- Org admins read the installation's backup events (rows without an organisation) beside
  their own organisation's rows; every other service row stays for operators only.
- A partial index finds a worker's last startup or shutdown without scanning the log.
- `performance_stats` gains index usage, reads `pg_stat_statements` through a function
  that answers nothing (and a `note` row) when the extension is created but not preloaded,
  instead of failing the whole view.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here: the service events an org admin may read.
SHARED_ACTIONS = "('backup_completed', 'backup_failed')"

STATUS_FUNCTION = """
CREATE FUNCTION fpm_statements_status() RETURNS text
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') THEN
        RETURN 'not installed';
    END IF;
    BEGIN
        EXECUTE 'SELECT 1 FROM pg_stat_statements LIMIT 1';
    EXCEPTION WHEN object_not_in_prerequisite_state OR undefined_table
                   OR insufficient_privilege THEN
        RETURN 'not loaded';  -- created, but not in shared_preload_libraries
    END;
    RETURN 'loaded';
END $$
"""

SLOW_FUNCTION = """
CREATE FUNCTION fpm_slow_statements(p_limit integer DEFAULT 20)
RETURNS TABLE (query text, mean_ms double precision, calls bigint)
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
BEGIN
    IF fpm_statements_status() <> 'loaded' THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE 'SELECT left(query, 500), mean_exec_time, calls '
                         'FROM pg_stat_statements ORDER BY mean_exec_time DESC LIMIT $1'
                 USING p_limit;
END $$
"""

PERFORMANCE_STATS = """
CREATE VIEW performance_stats AS
SELECT 'table'::text AS kind, s.relname::text AS name,
       pg_total_relation_size(s.relid) AS size_bytes, s.n_live_tup AS row_count,
       NULL::double precision AS value, NULL::bigint AS calls
FROM pg_stat_user_tables s
UNION ALL
SELECT 'index', s.relname || '.' || s.indexrelname, pg_relation_size(s.indexrelid),
       s.idx_scan, NULL, NULL
FROM pg_stat_user_indexes s
UNION ALL
SELECT 'cache_hit_ratio', current_database()::text, NULL, NULL,
       sum(blks_hit)::double precision / nullif(sum(blks_hit) + sum(blks_read), 0), NULL
FROM pg_stat_database WHERE datname = current_database()
UNION ALL
SELECT 'slow_statement', query, NULL, NULL, mean_ms, calls FROM fpm_slow_statements(20)
UNION ALL
SELECT 'note', 'pg_stat_statements ' || status, NULL, NULL, NULL, NULL
FROM fpm_statements_status() AS status WHERE status <> 'loaded'
"""

# The view as revision 0002 made it (for the downgrade).
OLD_PERFORMANCE_STATS = """
CREATE VIEW performance_stats AS
SELECT 'table'::text AS kind, s.relname::text AS name,
       pg_total_relation_size(s.relid) AS size_bytes, s.n_live_tup AS row_count,
       NULL::double precision AS value, NULL::bigint AS calls
FROM pg_stat_user_tables s
UNION ALL
SELECT 'cache_hit_ratio', current_database()::text, NULL, NULL,
       sum(blks_hit)::double precision / nullif(sum(blks_hit) + sum(blks_read), 0), NULL
FROM pg_stat_database WHERE datname = current_database()
"""


def upgrade() -> None:
    op.execute(f"""CREATE POLICY installation ON audit_logs FOR SELECT TO formula_pm_app
                   USING (org_id IS NULL AND action IN {SHARED_ACTIONS}
                          AND (SELECT app_is_org_admin()))""")
    op.execute("""CREATE INDEX ix_audit_logs_worker_life ON audit_logs (id)
                  WHERE org_id IS NULL AND action IN ('startup', 'shutdown')""")
    op.execute("DROP VIEW IF EXISTS performance_stats")
    op.execute(STATUS_FUNCTION)
    op.execute(SLOW_FUNCTION)
    op.execute(PERFORMANCE_STATS)
    op.execute("GRANT SELECT ON performance_stats TO formula_pm_system")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS performance_stats")
    op.execute("DROP FUNCTION IF EXISTS fpm_slow_statements(integer)")
    op.execute("DROP FUNCTION IF EXISTS fpm_statements_status()")
    op.execute(OLD_PERFORMANCE_STATS)
    op.execute("GRANT SELECT ON performance_stats TO formula_pm_system")
    op.execute("DROP INDEX IF EXISTS ix_audit_logs_worker_life")
    op.execute("DROP POLICY IF EXISTS installation ON audit_logs")
