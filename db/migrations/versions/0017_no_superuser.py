"""No superuser, no BYPASSRLS: the system role passes row-level security by policy.

Managed PostgreSQL services give no superuser and no BYPASSRLS. Until now
`formula_pm_system` bypassed row-level security by attribute; from here on every table with
row-level security has a policy `system` that admits that role to every row, and the
organisation and project policies apply to `formula_pm_app` alone (so the definer functions
they call, which run as the system role, never meet them: no recursion, no per-row cost).
The role attribute itself is left as it is (roles are shared by every database of the
server; a migration of one database does not change them): an older installation's system
role may still carry BYPASSRLS, which `formula-pm check` reports and a superuser removes
with `ALTER ROLE formula_pm_system NOBYPASSRLS`.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (a table added to db/schema.py later brings its own policies).
RLS_TABLES = (
    "organizations", "clients", "users", "projects", "project_members", "tasks",
    "scope_groups", "scope_items", "shop_drawings", "shop_drawing_revisions",
    "material_specs", "item_links", "comments", "mentions", "attachments", "notifications",
    "audit_logs",
)

# Every policy of those tables written for PUBLIC is meant for the application role.
TO_APP = """
DO $$
DECLARE p record;
BEGIN
    FOR p IN SELECT tablename, policyname FROM pg_policies
             WHERE schemaname = 'public' AND tablename = ANY ($1) AND roles = '{public}'
    LOOP
        EXECUTE format('ALTER POLICY %I ON %I TO formula_pm_app', p.policyname, p.tablename);
    END LOOP;
END $$
"""
TO_PUBLIC = TO_APP.replace("roles = '{public}'", "roles = '{formula_pm_app}'").replace(
    "TO formula_pm_app'", "TO PUBLIC'")

def _tables_literal() -> str:
    return "ARRAY[" + ", ".join(f"'{t}'" for t in RLS_TABLES) + "]::name[]"


def upgrade() -> None:
    for table in RLS_TABLES:
        op.execute(f"DROP POLICY IF EXISTS system ON {table}")  # left by a downgrade
        op.execute(f"""CREATE POLICY system ON {table} TO formula_pm_system
                       USING (true) WITH CHECK (true)""")
    op.execute(TO_APP.replace("$1", _tables_literal()))


def downgrade() -> None:
    # The `system` policies stay: with them the older revisions work whether or not the
    # role has BYPASSRLS (roles are shared by the server's databases: never changed here).
    op.execute(TO_PUBLIC.replace("$1", _tables_literal()))
