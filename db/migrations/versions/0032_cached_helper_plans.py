"""SECURITY DEFINER helpers in PL/pgSQL (planned once per connection); fpm_tx_changes() by txid.

A SECURITY DEFINER function in LANGUAGE sql is never inlined, and PostgreSQL 15 plans its
body again on every call. The helpers below run in every row-security check (once per
statement, as an init plan), fpm_scope_readiness() in the readiness trigger and
fpm_tx_changes() before every write's COMMIT, so each
statement paid 0.1–0.35 ms of planning per helper (measured on the 2-core machine) and
fpm_tx_changes() planned over every audit partition and index. PL/pgSQL prepares a body
once per connection and keeps the plan: the same queries, the same results, the same
owner and privileges (CREATE OR REPLACE keeps both).

fpm_tx_changes() also changes its query. Planned afresh on statistics that were never
gathered (autovacuum off, or a month's partition just created), `table_name IS NOT NULL`
looked as selective as the transaction id and PostgreSQL scanned the whole of
ix_audit_logs_record, 9–12 ms on 17,000 rows and growing with the log. Now only the
transaction id can lead: the name test is applied after a fence (OFFSET 0). Its rows are
the audit trigger's, stamped clock_timestamp() inside this transaction, so never before
its start: `at >= now() - 1 day` (slack for a clock stepped back) lets PostgreSQL skip the
older months' partitions at executor start.

Revision ID: 0032
Revises: 0027
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0032"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here: each scalar helper's signature, return type and its SQL body as 0031 left it.
HELPERS = {
    "app_visible_project_ids()": ("uuid[]", """
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
          END"""),
    "app_is_org_admin()": ("boolean", """
    SELECT EXISTS (
        SELECT 1 FROM users u
        WHERE u.id = app_user_id() AND u.org_id = app_org_id()
          AND u.role = 'admin' AND u.status = 'active')"""),
    "app_can_see_project(project uuid)": ("boolean", """
    SELECT project = ANY (app_visible_project_ids())"""),
    "app_user_client_id()": ("uuid", """
    SELECT u.client_id FROM users u
    WHERE u.id = app_user_id() AND u.org_id = app_org_id() AND u.status = 'active'"""),
    "app_visible_user_ids()": ("uuid[]", """
    SELECT CASE WHEN u.role <> 'client' THEN NULL ELSE ARRAY(
        SELECT u.id
        UNION SELECT m.user_id FROM project_members m
              WHERE m.project_id = ANY (app_visible_project_ids())
        UNION SELECT p.project_manager_id FROM projects p
              WHERE p.id = ANY (app_visible_project_ids()) AND p.project_manager_id IS NOT NULL
        UNION SELECT p.created_by FROM projects p
              WHERE p.id = ANY (app_visible_project_ids()) AND p.created_by IS NOT NULL)
    END
    FROM users u WHERE u.id = app_user_id() AND u.org_id = app_org_id()"""),
    "fpm_notification_channel(p_user uuid, p_project uuid, p_kind text)": ("text", """
    SELECT coalesce(
        (SELECT channel FROM notification_preferences
         WHERE user_id = p_user AND project_id = p_project AND kind = p_kind),
        (SELECT channel FROM notification_preferences
         WHERE user_id = p_user AND project_id IS NULL AND kind = p_kind),
        CASE WHEN p_kind = 'action_required' THEN 'email' ELSE 'live' END)"""),
}

HEADER = ("CREATE OR REPLACE FUNCTION {signature} RETURNS {returns} LANGUAGE {language} "
          "STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$")

# A scalar subquery is NULL when its query finds no row, as the SQL function's result was.
PLPGSQL_BODY = "\nBEGIN\n    RETURN ({body}\n    );\nEND\n$$"

# Run by the readiness trigger on every link, drawing and spec change (0031).
READINESS_HEADER = """CREATE OR REPLACE FUNCTION fpm_scope_readiness(items uuid[]) RETURNS void
LANGUAGE {language} SECURITY DEFINER SET search_path = public, pg_temp AS $$"""

READINESS_SQL = """
    UPDATE scope_items s SET production_ready = r.ready
    FROM (SELECT i.id, NOT EXISTS (
              SELECT 1 FROM item_links l
              LEFT JOIN shop_drawings d ON d.id = l.shop_drawing_id
              LEFT JOIN material_specs m ON m.id = l.material_spec_id
              WHERE l.scope_item_id = i.id
                AND ((l.shop_drawing_id IS NOT NULL AND d.status IN ('approved', 'approved_as_noted')
                      IS NOT TRUE)
                  OR (l.material_spec_id IS NOT NULL
                      AND (m.status IN ('delivered', 'used') IS NOT TRUE)
                      AND (m.delivery_status IN ('delivered', 'received') IS NOT TRUE)))
          ) AS ready
          FROM scope_items i WHERE i.id = ANY (items)) r
    WHERE s.id = r.id AND s.production_ready IS DISTINCT FROM r.ready"""

TX_CHANGES_HEADER = """CREATE OR REPLACE FUNCTION fpm_tx_changes()
RETURNS TABLE (table_name text, record_id uuid, project_id uuid, org_id uuid)
LANGUAGE {language} STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$"""

TX_CHANGES_SQL = """
    SELECT DISTINCT a.table_name, a.record_id, a.project_id, a.org_id
    FROM audit_logs a
    WHERE a.txid = pg_current_xact_id_if_assigned() AND a.table_name IS NOT NULL
$$"""

TX_CHANGES_PLPGSQL = """
BEGIN
    RETURN QUERY
    SELECT DISTINCT mine.table_name, mine.record_id, mine.project_id, mine.org_id
    FROM (SELECT a.table_name, a.record_id, a.project_id, a.org_id
          FROM audit_logs a
          WHERE a.txid = pg_current_xact_id_if_assigned()
            AND a.at >= now() - interval '1 day'
          OFFSET 0) AS mine
    WHERE mine.table_name IS NOT NULL;
END
$$"""


def _helpers(language: str) -> None:
    for signature, (returns, body) in HELPERS.items():
        head = HEADER.format(signature=signature, returns=returns, language=language)
        op.execute(head + (PLPGSQL_BODY.format(body=body) if language == "plpgsql"
                           else body + "\n$$"))


def upgrade() -> None:
    _helpers("plpgsql")
    op.execute(READINESS_HEADER.format(language="plpgsql")
               + f"\nBEGIN{READINESS_SQL};\nEND\n$$")
    op.execute(TX_CHANGES_HEADER.format(language="plpgsql") + TX_CHANGES_PLPGSQL)


def downgrade() -> None:
    _helpers("sql")
    op.execute(READINESS_HEADER.format(language="sql") + READINESS_SQL + "\n$$")
    op.execute(TX_CHANGES_HEADER.format(language="sql") + TX_CHANGES_SQL)
