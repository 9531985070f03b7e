"""fpm_session_alive(): a transaction refuses a session that has ended.

With a shared cache a worker may start a write from its own copy of the caller's session
facts instead of reading the session from Redis first (server/auth/session_copies.py).
What makes that safe is this check, run in the transaction's first round trip right after
BEGIN and the actor's settings: the session must exist, be the token's (same user and
organisation, the same role), not be revoked or expired, and its user must still be active
— else SQLSTATE 28000 (invalid_authorization_specification) and nothing of the handler
runs. A revocation is therefore refused by every worker from the moment it commits.

SECURITY DEFINER (the app role cannot read sessions); executable by the app role only, so
it is no oracle for other callers. An answer is one index probe of each table.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIGNATURE = "fpm_session_alive(uuid, uuid, uuid, text)"

FUNCTION = """
CREATE FUNCTION fpm_session_alive(session uuid, account uuid, org uuid, account_role text)
RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM 1 FROM user_sessions s JOIN users u ON u.id = s.user_id
    WHERE s.id = session AND s.user_id = account AND s.revoked_at IS NULL
      AND s.expires_at > now() AND u.org_id = org AND u.role = account_role
      AND u.status = 'active';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the session has ended' USING ERRCODE = '28000';
    END IF;
    RETURN true;
END
$$"""


def upgrade() -> None:
    op.execute(FUNCTION)
    op.execute(f"REVOKE EXECUTE ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO formula_pm_app")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {SIGNATURE}")
