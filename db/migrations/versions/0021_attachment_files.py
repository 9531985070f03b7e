"""Attachments carry their files: upload status, checksum, the shop-drawing revision they
belong to, the multipart upload in progress, the thumbnail's state, soft deletion; and
drawing revisions may hold attachments.

Rows that exist already (none hold bytes this service stored) become `ready`; new rows
start `pending` until their upload is completed. No row is moved, so no role change.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (never imported from db/schema.py): the state this migration was written for.
BEFORE = ("project", "task", "scope_item", "shop_drawing", "material_spec", "comment")
AFTER = (*BEFORE, "drawing_revision")
STATUSES = ("pending", "ready")
THUMBNAILS = ("ready", "failed", "none")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _entity_types(values: tuple[str, ...]) -> None:
    op.execute("ALTER TABLE attachments DROP CONSTRAINT ck_attachments_entity_type")
    op.execute("ALTER TABLE attachments ADD CONSTRAINT ck_attachments_entity_type "
               f"CHECK ({_in('entity_type', values)})")


def upgrade() -> None:
    op.execute("ALTER TABLE attachments ADD COLUMN status text NOT NULL DEFAULT 'ready'")
    op.execute("ALTER TABLE attachments ALTER COLUMN status SET DEFAULT 'pending'")
    op.execute("ALTER TABLE attachments ADD COLUMN sha256 text")
    op.execute("ALTER TABLE attachments ADD COLUMN revision text")
    op.execute("ALTER TABLE attachments ADD COLUMN upload_id text")
    op.execute("ALTER TABLE attachments ADD COLUMN thumbnail text")
    op.execute("ALTER TABLE attachments ADD COLUMN completed_at timestamptz")
    op.execute("ALTER TABLE attachments ADD COLUMN deleted_at timestamptz")
    op.execute("ALTER TABLE attachments ADD CONSTRAINT ck_attachments_status "
               f"CHECK ({_in('status', STATUSES)})")
    op.execute("ALTER TABLE attachments ADD CONSTRAINT ck_attachments_thumbnail "
               f"CHECK (thumbnail IS NULL OR {_in('thumbnail', THUMBNAILS)})")
    op.execute("ALTER TABLE attachments ADD CONSTRAINT ck_attachments_sha256_format "
               "CHECK (sha256 IS NULL OR sha256 ~ '^[0-9a-f]{64}$')")
    op.execute("ALTER TABLE attachments ADD CONSTRAINT ck_attachments_file_name_length "
               "CHECK (length(file_name) BETWEEN 1 AND 255)")
    op.execute("ALTER TABLE attachments ADD CONSTRAINT uq_attachments_storage_key "
               "UNIQUE (storage_key)")
    _entity_types(AFTER)
    # The sweep's two questions: uploads never completed, rows deleted.
    op.execute("CREATE INDEX ix_attachments_pending ON attachments (created_at) "
               "WHERE status = 'pending'")
    op.execute("CREATE INDEX ix_attachments_deleted ON attachments (deleted_at) "
               "WHERE deleted_at IS NOT NULL")
    # A list by entity, newest first (keyset on created_at, id).
    op.execute("CREATE INDEX ix_attachments_entity_id_created_at_id ON attachments "
               "(entity_id, created_at, id)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_attachments_entity_id_created_at_id")
    op.execute("DROP INDEX ix_attachments_deleted")
    op.execute("DROP INDEX ix_attachments_pending")
    # Row-level security applies to the migrating login; the system role sees every row.
    op.execute("SET LOCAL ROLE formula_pm_system")
    op.execute("DELETE FROM attachments WHERE entity_type = 'drawing_revision'")
    op.execute("RESET ROLE")
    _entity_types(BEFORE)
    op.execute("ALTER TABLE attachments DROP CONSTRAINT uq_attachments_storage_key")
    op.execute("ALTER TABLE attachments DROP CONSTRAINT ck_attachments_file_name_length")
    for column in ("deleted_at", "completed_at", "thumbnail", "upload_id", "revision",
                   "sha256", "status"):
        op.execute(f"ALTER TABLE attachments DROP COLUMN {column}")
