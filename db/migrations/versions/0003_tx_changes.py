"""fpm_tx_changes(): what the current transaction changed, for writer-side cache invalidation.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SECURITY DEFINER: the caller may not be allowed to read org-level audit rows, but may
    # always learn what its own transaction just wrote. Uses ix_audit_logs_txid_id, and
    # assigns no transaction id to a read-only transaction.
    op.execute("""
        CREATE FUNCTION fpm_tx_changes()
        RETURNS TABLE (table_name text, record_id uuid, project_id uuid, org_id uuid)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
        AS $$
            SELECT DISTINCT a.table_name, a.record_id, a.project_id, a.org_id
            FROM audit_logs a
            WHERE a.txid = pg_current_xact_id_if_assigned() AND a.table_name IS NOT NULL
        $$
    """)
    op.execute("ALTER FUNCTION fpm_tx_changes() OWNER TO formula_pm_system")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS fpm_tx_changes()")
