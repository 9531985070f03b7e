"""A tamper-evident hash chain over the audit log, extended by the change leader.

- `audit_chain_links`: one row per audit row once chained: its chain (an organisation's id,
  or `service` for rows of no organisation), its place in that chain (`seq`, from 1) and
  `hash = sha256(previous hash || canonical(row))` (`rules/audit_chain.py`).
- `audit_chain_heads`: the last link of each chain, with the (txid, id) of its row (the
  leader resumes after the largest of them) and the last head it published.
- `audit_erasures`: the digests of personal values erased from audit rows
  (`formula-pm users erase`): the chain keeps the digest, the row loses the value.

Writers pay nothing: no trigger changes. Only the system role (the leader) writes these
tables; the application role cannot read them.

Revision ID: 0023
Revises: 0020 (the lead re-chains onto 0022 at merge)
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = """
CREATE TABLE audit_chain_links (
    audit_id bigint CONSTRAINT pk_audit_chain_links PRIMARY KEY,
    chain text NOT NULL,
    seq bigint NOT NULL CONSTRAINT ck_audit_chain_links_seq CHECK (seq > 0),
    hash bytea NOT NULL CONSTRAINT ck_audit_chain_links_hash CHECK (octet_length(hash) = 32),
    CONSTRAINT uq_audit_chain_links_chain_seq UNIQUE (chain, seq)
);
CREATE TABLE audit_chain_heads (
    chain text CONSTRAINT pk_audit_chain_heads PRIMARY KEY,
    org_id uuid,
    seq bigint NOT NULL,
    last_txid xid8 NOT NULL,
    last_id bigint NOT NULL,
    hash bytea NOT NULL CONSTRAINT ck_audit_chain_heads_hash CHECK (octet_length(hash) = 32),
    updated_at timestamptz NOT NULL DEFAULT now(),
    published_seq bigint,
    published_at timestamptz
);
CREATE INDEX ix_audit_chain_heads_position ON audit_chain_heads (last_txid, last_id);
CREATE TABLE audit_erasures (
    audit_id bigint NOT NULL,
    field text NOT NULL,
    digest bytea NOT NULL
        CONSTRAINT ck_audit_erasures_digest CHECK (octet_length(digest) = 32),
    erased_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_audit_erasures PRIMARY KEY (audit_id, field)
);
"""

# Frozen here: the side tables and what the system role may do with each.
GRANTS = (
    ("audit_chain_links", "SELECT, INSERT"),
    ("audit_chain_heads", "SELECT, INSERT, UPDATE"),
    ("audit_erasures", "SELECT, INSERT"),
)


def upgrade() -> None:
    for statement in TABLES.split(";"):
        if statement.strip():
            op.execute(statement)
    for table, privileges in GRANTS:
        op.execute(f"REVOKE ALL ON {table} FROM PUBLIC")
        op.execute(f"GRANT {privileges} ON {table} TO formula_pm_system")


def downgrade() -> None:
    for table, _ in reversed(GRANTS):
        op.execute(f"DROP TABLE IF EXISTS {table}")
