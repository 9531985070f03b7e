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
Revises: 0022
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
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

# Erasure (`formula-pm users erase`): the personal values of a person's audit rows that the
# chain already covers are replaced, each digest kept in audit_erasures first (the digest
# the chain took: sha256 of the value's text). Rows not chained yet are left (counted); the
# command chains first. Run by the table's owner (a definer function): the log stays
# append-only for every role of the service, and the one policy that lets the owner update
# rows holds only inside this function.
# (TO CURRENT_USER: the owner running the migrations, who owns the function too.)
ERASE_POLICY = """CREATE POLICY erase ON audit_logs FOR ALL TO CURRENT_USER
    USING (current_setting('fpm.erasing', true) = 'on')
    WITH CHECK (current_setting('fpm.erasing', true) = 'on')"""

ERASE_FUNCTION = """
CREATE FUNCTION fpm_erase_person(p_user uuid)
RETURNS TABLE (erased bigint, waiting bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
    marker constant jsonb := '{"erased": true}';
BEGIN
    PERFORM set_config('fpm.erasing', 'on', true);
    DROP TABLE IF EXISTS pg_temp.fpm_erasing;
    CREATE TEMP TABLE fpm_erasing ON COMMIT DROP AS
    SELECT a.id, (l.audit_id IS NOT NULL) AS chained,
           (a.table_name = 'users' AND a.record_id = p_user) AS about,
           (a.user_id = p_user) AS by_them
    FROM audit_logs a LEFT JOIN audit_chain_links l ON l.audit_id = a.id
    WHERE (a.table_name = 'users' AND a.record_id = p_user) OR a.user_id = p_user;
    INSERT INTO audit_erasures (audit_id, field, digest)
    SELECT a.id, f.field, sha256(convert_to(f.value, 'UTF8'))
    FROM audit_logs a JOIN fpm_erasing e ON e.id = a.id AND e.chained
    CROSS JOIN LATERAL (VALUES
        ('old_values', CASE WHEN e.about THEN a.old_values::text END),
        ('new_values', CASE WHEN e.about THEN a.new_values::text END),
        ('details', a.details::text),
        ('ip', CASE WHEN e.by_them OR e.about THEN a.ip::text END),
        ('user_agent', CASE WHEN e.by_them OR e.about THEN a.user_agent END)) AS f(field, value)
    WHERE f.value IS NOT NULL AND f.value <> marker::text
    ON CONFLICT (audit_id, field) DO NOTHING;
    UPDATE audit_logs a
    SET old_values = CASE WHEN e.about AND a.old_values IS NOT NULL THEN marker
                          ELSE a.old_values END,
        new_values = CASE WHEN e.about AND a.new_values IS NOT NULL THEN marker
                          ELSE a.new_values END,
        details = CASE WHEN a.details IS NOT NULL THEN marker ELSE NULL END,
        ip = CASE WHEN e.by_them OR e.about THEN NULL ELSE a.ip END,
        user_agent = CASE WHEN e.by_them OR e.about THEN NULL ELSE a.user_agent END
    FROM fpm_erasing e WHERE e.id = a.id AND e.chained;
    PERFORM set_config('fpm.erasing', 'off', true);
    RETURN QUERY SELECT count(*) FILTER (WHERE chained), count(*) FILTER (WHERE NOT chained)
                 FROM fpm_erasing;
END $$
"""
ERASE_SIGNATURE = "fpm_erase_person(uuid)"

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
    op.execute(ERASE_POLICY)
    op.execute(ERASE_FUNCTION)
    op.execute(f"REVOKE EXECUTE ON FUNCTION {ERASE_SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {ERASE_SIGNATURE} TO formula_pm_system")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {ERASE_SIGNATURE}")
    op.execute("DROP POLICY IF EXISTS erase ON audit_logs")
    for table, _ in reversed(GRANTS):
        op.execute(f"DROP TABLE IF EXISTS {table}")
