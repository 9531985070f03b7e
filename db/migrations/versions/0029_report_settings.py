"""Report settings: the organisation's logo, printed on its reports (issue #27, item 2).

- `organization_logos`: at most one per organisation — a PNG or JPEG of at most 256 KiB and
  4096 × 4096 pixels, checked by the server (real type from the bytes, decoded by Pillow)
  before it is stored, and by the constraints below whatever writes it. The firm's name is
  `organizations.name`.

Internal (db/tables.py): the bytes are not for the audit trail, whose rows would carry them
as hex, nor for the event feed; setting or removing a logo is a user-action audit row
(`organization_logo`, with its sha256 and size) written by the route. Forced row-level
security: every user of the organisation reads its logo (their reports print it), only its
admins write it.

Revision ID: 0029
Revises: 0025
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0029"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MAX_BYTES = 262144  # frozen here: server/routes/organization_logo.py's LOGO_MAX_BYTES today
MAX_PIXELS = 4096

CREATE = f"""CREATE TABLE organization_logos (
    org_id uuid NOT NULL,
    media_type text NOT NULL,
    data bytea NOT NULL,
    width integer NOT NULL,
    height integer NOT NULL,
    sha256 text NOT NULL,
    updated_at timestamptz DEFAULT now() NOT NULL,
    CONSTRAINT pk_organization_logos PRIMARY KEY (org_id),
    CONSTRAINT fk_organization_logos_org_id_organizations FOREIGN KEY (org_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT ck_organization_logos_media_type
        CHECK (media_type IN ('image/png', 'image/jpeg')),
    CONSTRAINT ck_organization_logos_size CHECK (octet_length(data) BETWEEN 1 AND {MAX_BYTES}),
    CONSTRAINT ck_organization_logos_pixels
        CHECK (width BETWEEN 1 AND {MAX_PIXELS} AND height BETWEEN 1 AND {MAX_PIXELS}),
    CONSTRAINT ck_organization_logos_sha256 CHECK (sha256 ~ '^[0-9a-f]{{64}}$'))"""


def upgrade() -> None:
    op.execute(CREATE)
    op.execute("ALTER TABLE organization_logos ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE organization_logos FORCE ROW LEVEL SECURITY")
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON organization_logos TO formula_pm_app")
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON organization_logos TO formula_pm_system")
    op.execute("""CREATE POLICY read ON organization_logos FOR SELECT TO formula_pm_app
                  USING (org_id = app_org_id())""")
    op.execute("""CREATE POLICY admin ON organization_logos TO formula_pm_app
                  USING (org_id = app_org_id() AND (SELECT app_is_org_admin()))
                  WITH CHECK (org_id = app_org_id() AND (SELECT app_is_org_admin()))""")
    op.execute("""CREATE POLICY system ON organization_logos TO formula_pm_system
                  USING (true) WITH CHECK (true)""")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS organization_logos")
