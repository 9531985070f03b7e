"""Background export jobs (issue #27, item 3).

- `export_jobs`: one export a user asked to run in the background: its kind (a list name, or
  a kind registered later such as a report), format and filters; its state (queued, running,
  done, failed, expired), progress (`done`, `total`), result (`rows`, `bytes`, the object
  key under which the storage keeps the file, its name and media type) and when it expires; which
  worker holds it (`locked_by`) and when that worker last said it was alive
  (`heartbeat_at`): a running job whose worker has been silent too long is claimed again.

Bookkeeping (no audit trigger, no events: progress goes to the requester's socket room and
every export and download is a user-action audit row written by the service). Forced
row-level security: the requester, and only the requester, reads its jobs (anyone else gets
a 404); workers claim, update and expire jobs as `formula_pm_system`.

Revision ID: 0028
Revises: 0029
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0028"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREATE = """CREATE TABLE export_jobs (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    org_id uuid NOT NULL,
    user_id uuid NOT NULL,
    kind text NOT NULL,
    format text NOT NULL,
    filters jsonb DEFAULT '{}'::jsonb NOT NULL,
    status text DEFAULT 'queued' NOT NULL,
    done bigint DEFAULT 0 NOT NULL,
    total bigint,
    rows bigint,
    bytes bigint,
    object_key text,
    file_name text,
    media_type text,
    error text,
    attempts integer DEFAULT 0 NOT NULL,
    locked_by text,
    heartbeat_at timestamptz,
    created_at timestamptz DEFAULT now() NOT NULL,
    started_at timestamptz,
    finished_at timestamptz,
    expires_at timestamptz,
    CONSTRAINT pk_export_jobs PRIMARY KEY (id),
    CONSTRAINT fk_export_jobs_org_id_organizations FOREIGN KEY (org_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT fk_export_jobs_user_id_users FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT ck_export_jobs_status
        CHECK (status IN ('queued', 'running', 'done', 'failed', 'expired')),
    CONSTRAINT ck_export_jobs_kind_format
        CHECK (length(kind) BETWEEN 1 AND 64 AND length(format) BETWEEN 1 AND 16),
    CONSTRAINT ck_export_jobs_counts CHECK (done >= 0 AND attempts >= 0))"""
INDEXES = ("org_id", "user_id", "user_id, created_at, id", "status, created_at")
OWNER = "org_id = app_org_id() AND user_id = app_user_id()"


def upgrade() -> None:
    op.execute(CREATE)
    for cols in INDEXES:
        name = "ix_export_jobs_" + "_".join(c.strip() for c in cols.split(","))
        op.execute(f"CREATE INDEX {name} ON export_jobs ({cols})")
    op.execute("ALTER TABLE export_jobs ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE export_jobs FORCE ROW LEVEL SECURITY")
    op.execute("GRANT SELECT, INSERT ON export_jobs TO formula_pm_app")
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON export_jobs TO formula_pm_system")
    op.execute(f"CREATE POLICY owner ON export_jobs TO formula_pm_app "
               f"USING ({OWNER}) WITH CHECK ({OWNER})")
    op.execute("""CREATE POLICY system ON export_jobs TO formula_pm_system
                  USING (true) WITH CHECK (true)""")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS export_jobs")
