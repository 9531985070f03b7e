"""One doorbell per commit; the helpers left unused since 0012 dropped.

1. The audit trigger rings `formula_pm_changes` with an empty payload. The change leader
   never reads the payload (it always reads the audit log after its cursor), and PostgreSQL
   folds identical notifications of one transaction into one: a transaction that writes
   10,000 rows now rings once at commit instead of queueing 10,000 notifications.
2. `fpm_ring` and `fpm_redact` (revision 0002) are called by nothing since revision 0012
   inlined the doorbell and the redaction into `fpm_audit_row`.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PER_ROW_PAYLOAD = (
    "json_build_object('id', audit_id, 't', TG_TABLE_NAME, 'p', project, 'o', org)::text")

# 0002's definitions, frozen, for the downgrade (0012's downgrade calls fpm_redact).
REDACT = """
CREATE FUNCTION fpm_redact(row_values jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE
        WHEN row_values IS NULL THEN NULL
        WHEN row_values ? 'password_hash' AND row_values->'password_hash' <> 'null'::jsonb
            THEN jsonb_set(row_values - 'search_vector', '{password_hash}', '"[redacted]"')
        ELSE row_values - 'search_vector'
    END
$$
"""

RING = """
CREATE FUNCTION fpm_ring(audit_id bigint, tbl text, project uuid, org uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
BEGIN
    IF NOT coalesce((SELECT listener_awake FROM realtime_state WHERE id = 1), false) THEN
        PERFORM pg_notify('formula_pm_changes',
            json_build_object('id', audit_id, 't', tbl, 'p', project, 'o', org)::text);
    END IF;
END $$
"""
RING_SIGNATURE = "fpm_ring(bigint, text, uuid, uuid)"


def _audit_row_of_0013() -> str:
    previous = importlib.import_module("db.migrations.versions.0013_bulk_flag_and_user_teams")
    return str(previous.AUDIT_ROW)


def _audit_row() -> str:
    body = _audit_row_of_0013()
    if body.count(PER_ROW_PAYLOAD) != 1:
        raise RuntimeError("0013's fpm_audit_row() is not the one this revision was written for")
    return body.replace(PER_ROW_PAYLOAD, "''")


def upgrade() -> None:
    op.execute(_audit_row())
    op.execute(f"DROP FUNCTION {RING_SIGNATURE}")
    op.execute("DROP FUNCTION fpm_redact(jsonb)")


def downgrade() -> None:
    op.execute(REDACT)
    op.execute(RING)
    op.execute(f"ALTER FUNCTION {RING_SIGNATURE} OWNER TO formula_pm_system")
    op.execute(f"REVOKE EXECUTE ON FUNCTION {RING_SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {RING_SIGNATURE} TO formula_pm_app, formula_pm_system")
    op.execute(_audit_row_of_0013())
