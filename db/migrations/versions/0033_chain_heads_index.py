"""An index of the chain heads published into the audit log.

`formula-pm audit verify` checks every chain head the leader has published into the log
(`audit_chain_head` events) against the link it names. Finding them read every audit row
(a sequential scan of every partition: 36 ms on 70,000 rows, growing with the log); this
partial index holds only those rows (one an hour per chain that moved), so writers of
other rows pay nothing for it.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("""CREATE INDEX ix_audit_logs_chain_heads ON audit_logs (id)
                  WHERE action = 'audit_chain_head'""")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_audit_logs_chain_heads")
