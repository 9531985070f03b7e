"""The audit log partitioned by month on `at`, with retention by whole partitions.

`audit_logs` becomes a native declarative partitioned table (RANGE on `at`, one partition
`audit_logs_pYYYYMM` per UTC month, and `audit_logs_default` for a row of a month that has
no partition yet). Every row keeps its id (the sequence is kept); the primary key becomes
(id, at), as a partitioned table's unique keys must hold the partition key. The indexes,
row-level security policies and grants of the table are carried over as the catalog has
them (read here, not restated), so the leader's (txid, id) reads, resync, record history
and `GET /audit` stay index-range reads in every partition.

Partitions are created and dropped by the table's owner only, through two definer
functions the change leader (the system role) calls:
- `fpm_audit_partitions_ahead(months)`: this month's partition and the next `months`';
- `fpm_audit_drop_partition(name, keep_months)`: detach and drop one whole monthly
  partition older than `keep_months` months, once every row of it is in the hash chain,
  recording in `audit_retention` where each chain was cut (the last dropped link's seq and
  hash), so `formula-pm audit verify` reports retention as such and checks what remains.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "audit_logs"
OLD = "audit_logs_unpartitioned"
DEFAULT = "audit_logs_default"
SEQUENCE = "audit_logs_id_seq"
AHEAD = 2  # months of partitions created ahead by the migration (the leader keeps it up)

RETENTION = """
CREATE TABLE audit_retention (
    chain text NOT NULL,
    partition text NOT NULL,
    through_seq bigint NOT NULL,
    through_hash bytea NOT NULL
        CONSTRAINT ck_audit_retention_hash CHECK (octet_length(through_hash) = 32),
    rows bigint NOT NULL,
    dropped_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_audit_retention PRIMARY KEY (chain, partition)
)"""

PARTITION_FOR = """
CREATE FUNCTION fpm_audit_partition_for(p_month date) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET lock_timeout = '5s'
AS $$
DECLARE
    m constant date := date_trunc('month', p_month)::date;
    part constant text := 'audit_logs_p' || to_char(m, 'YYYYMM');
    lo constant timestamptz := m::timestamp AT TIME ZONE 'UTC';
    hi constant timestamptz := (m + interval '1 month')::timestamp AT TIME ZONE 'UTC';
BEGIN
    IF to_regclass('public.' || quote_ident(part)) IS NOT NULL THEN
        RETURN false;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM audit_logs_default WHERE at >= lo AND at < hi) THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF audit_logs FOR VALUES FROM (%L) TO (%L)',
                       part, lo, hi);
        RETURN true;
    END IF;
    -- Rows of that month came before its partition (the default one took them): moved
    -- into it, ids and all, in this one transaction.
    ALTER TABLE audit_logs DETACH PARTITION audit_logs_default;
    EXECUTE format('CREATE TABLE %I PARTITION OF audit_logs FOR VALUES FROM (%L) TO (%L)',
                   part, lo, hi);
    EXECUTE format('INSERT INTO %I SELECT * FROM audit_logs_default WHERE at >= $1 AND at < $2',
                   part) USING lo, hi;
    DELETE FROM audit_logs_default WHERE at >= lo AND at < hi;
    ALTER TABLE audit_logs ATTACH PARTITION audit_logs_default DEFAULT;
    RAISE WARNING 'audit rows of % moved out of audit_logs_default into %', m, part;
    RETURN true;
END $$"""

AHEAD_FUNCTION = """
CREATE FUNCTION fpm_audit_partitions_ahead(p_months integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
    this_month constant date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
    made integer := 0;
BEGIN
    FOR i IN 0 .. least(greatest(coalesce(p_months, 0), 0), 24) LOOP
        IF fpm_audit_partition_for((this_month + make_interval(months => i))::date) THEN
            made := made + 1;
        END IF;
    END LOOP;
    RETURN made;
END $$"""

DROP_FUNCTION = """
CREATE FUNCTION fpm_audit_drop_partition(p_name text, p_keep_months integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET lock_timeout = '5s'
AS $$
DECLARE
    month_text constant text := substring(p_name FROM '^audit_logs_p([0-9]{6})$');
    cutoff timestamptz;
    hi timestamptz;
    dropped bigint;
    unchained boolean;
BEGIN
    IF p_keep_months IS NULL OR p_keep_months < 1 THEN
        RAISE EXCEPTION 'audit retention keeps at least one month';
    END IF;
    IF month_text IS NULL OR NOT EXISTS (
            SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'audit_logs'::regclass AND c.relname = p_name
              AND c.relnamespace = 'public'::regnamespace) THEN
        RAISE EXCEPTION '% is not a monthly partition of audit_logs', p_name;
    END IF;
    cutoff := (date_trunc('month', now() AT TIME ZONE 'UTC')
               - make_interval(months => p_keep_months)) AT TIME ZONE 'UTC';
    hi := (to_date(month_text, 'YYYYMM') + interval '1 month')::timestamp AT TIME ZONE 'UTC';
    IF hi > cutoff THEN
        RAISE EXCEPTION '% is within the % month(s) kept', p_name, p_keep_months;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I a WHERE NOT EXISTS '
                   '(SELECT 1 FROM audit_chain_links l WHERE l.audit_id = a.id))', p_name)
        INTO STRICT unchained;
    IF unchained THEN
        RAISE EXCEPTION 'rows of % are not in the hash chain yet', p_name;
    END IF;
    EXECUTE format(
        'INSERT INTO audit_retention (chain, partition, through_seq, through_hash, rows) '
        'SELECT DISTINCT ON (l.chain) l.chain, %L, l.seq, l.hash, '
        '       count(*) OVER (PARTITION BY l.chain) '
        'FROM %I a JOIN audit_chain_links l ON l.audit_id = a.id '
        'ORDER BY l.chain, l.seq DESC', p_name, p_name);
    EXECUTE format('SELECT count(*) FROM %I', p_name) INTO STRICT dropped;
    EXECUTE format('ALTER TABLE audit_logs DETACH PARTITION %I', p_name);
    EXECUTE format('DROP TABLE %I', p_name);
    RETURN dropped;
END $$"""

FUNCTIONS = (
    ("fpm_audit_partition_for(date)", PARTITION_FOR, False),
    ("fpm_audit_partitions_ahead(integer)", AHEAD_FUNCTION, True),
    ("fpm_audit_drop_partition(text, integer)", DROP_FUNCTION, True),
)


def _fetch(sql: str) -> list[Any]:
    return list(op.get_bind().execute(sa.text(sql)).fetchall())


def _shape() -> tuple[list[str], list[str], list[str], tuple[bool, bool]]:
    """What the current audit_logs carries besides its columns: its index definitions
    (the primary key's left out), its policies and its grants, as statements."""
    indexes = [str(r[0]).replace(" ON ONLY ", " ON ") for r in _fetch(
        f"""SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
            WHERE i.indrelid = '{TABLE}'::regclass AND NOT i.indisprimary
            ORDER BY i.indexrelid""")]  # noqa: S608 - fixed names
    policies = []
    for name, permissive, command, roles, qual, check in _fetch(
            f"""SELECT p.polname, p.polpermissive,
                       CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT'
                            WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
                       ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE quote_ident(
                                    (SELECT rolname FROM pg_roles WHERE oid = r)) END
                             FROM unnest(p.polroles) AS r),
                       pg_get_expr(p.polqual, p.polrelid),
                       pg_get_expr(p.polwithcheck, p.polrelid)
                FROM pg_policy p WHERE p.polrelid = '{TABLE}'::regclass ORDER BY p.oid"""):  # noqa: S608 - fixed names
        text = (f"CREATE POLICY {name} ON {TABLE} AS "
                f"{'PERMISSIVE' if permissive else 'RESTRICTIVE'} FOR {command} "
                f"TO {', '.join(roles)}")
        if qual is not None:
            text += f" USING ({qual})"
        if check is not None:
            text += f" WITH CHECK ({check})"
        policies.append(text)
    grants = [f"GRANT {privilege} ON {TABLE} TO {grantee}" for privilege, grantee in _fetch(
        f"""SELECT a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                   ELSE quote_ident(r.rolname) END
            FROM pg_class c, aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
            WHERE c.oid = '{TABLE}'::regclass AND a.grantee <> c.relowner""")]  # noqa: S608 - fixed names
    flags = _fetch(f"""SELECT relrowsecurity, relforcerowsecurity FROM pg_class
                       WHERE oid = '{TABLE}'::regclass""")[0]  # noqa: S608 - fixed names
    return indexes, policies, grants, (bool(flags[0]), bool(flags[1]))


def _rebuild(partitioned: bool) -> None:
    """Replace audit_logs by a copy of itself, partitioned by month or not, rows and ids
    kept, its indexes, policies and grants carried over."""
    indexes, policies, grants, (rls, force) = _shape()
    op.execute(f"ALTER SEQUENCE {SEQUENCE} OWNED BY NONE")
    op.execute(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
    for (name,) in _fetch(f"""SELECT c.relname FROM pg_index i
                              JOIN pg_class c ON c.oid = i.indexrelid
                              WHERE i.indrelid = '{OLD}'::regclass"""):  # noqa: S608 - fixed names
        op.execute(f'ALTER INDEX "{name}" RENAME TO "{name}_old"')
    layout = " PARTITION BY RANGE (at)" if partitioned else ""
    op.execute(f"CREATE TABLE {TABLE} (LIKE {OLD} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
               f"INCLUDING STORAGE INCLUDING COMMENTS){layout}")
    op.execute(f"ALTER SEQUENCE {SEQUENCE} OWNED BY {TABLE}.id")
    for statement in policies + grants:
        op.execute(statement)
    if rls:
        op.execute(f"ALTER TABLE {TABLE} ENABLE ROW LEVEL SECURITY")
    if force:
        op.execute(f"ALTER TABLE {TABLE} FORCE ROW LEVEL SECURITY")
    # The rows are read and written past row-level security by policy (the owner running
    # the migration is subject to it: FORCE), as the system role.
    op.execute("SET LOCAL ROLE formula_pm_system")
    months = [r[0] for r in _fetch(
        f"""SELECT DISTINCT date_trunc('month', at AT TIME ZONE 'UTC')::date
            FROM {OLD}""")] if partitioned else []  # noqa: S608 - fixed names
    op.execute("RESET ROLE")
    if partitioned:
        op.execute(f"CREATE TABLE {DEFAULT} PARTITION OF {TABLE} DEFAULT")
        for month in months:
            op.execute(sa.text("SELECT fpm_audit_partition_for(:m)").bindparams(m=month))
        op.execute(f"SELECT fpm_audit_partitions_ahead({AHEAD})")
    op.execute("SET LOCAL ROLE formula_pm_system")
    op.execute(f"INSERT INTO {TABLE} SELECT * FROM {OLD}")  # noqa: S608 - fixed names
    op.execute("RESET ROLE")
    key = "id, at" if partitioned else "id"
    op.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT pk_{TABLE} PRIMARY KEY ({key})")
    for statement in indexes:
        op.execute(statement)
    op.execute(f"DROP TABLE {OLD}")
    op.execute(f"ANALYZE {TABLE}")


def upgrade() -> None:
    op.execute(RETENTION)
    op.execute("REVOKE ALL ON audit_retention FROM PUBLIC")
    op.execute("GRANT SELECT ON audit_retention TO formula_pm_system")
    for signature, body, granted in FUNCTIONS:
        op.execute(body)
        op.execute(f"REVOKE EXECUTE ON FUNCTION {signature} FROM PUBLIC")
        if granted:
            op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO formula_pm_system")
    _rebuild(partitioned=True)


def downgrade() -> None:
    _rebuild(partitioned=False)
    for signature, _, _ in reversed(FUNCTIONS):
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    op.execute("DROP TABLE IF EXISTS audit_retention")
