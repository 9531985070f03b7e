"""The drawing register and transmittals.

- `drawings`: design and issued drawings of a project (number unique per project, title,
  discipline from the number's prefix or an override, drawing set, current revision).
- `drawing_revisions`: ISO 19650 revision code (P01.01, P01, C01) and status code (S0-S4,
  A1.., B1.., CR), its attachment, issued / published / superseded. `is_current` marks the
  one published revision not superseded; a partial unique index holds it to one per drawing.
  Client users read published revisions only, and drawings that have one (row-level
  security).
- `transmittals`: which revisions were issued to whom, when and why; `transmittal_recipients`
  one row per recipient with the acknowledgement. Staff of the project read them all; a
  client user reads only the transmittals addressed to them and their own recipient row.

Every table is audited (version, audit triggers), has forced row-level security, a tenant
policy for the application role and a `system` policy for the system role.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (never imported from live code): the state this migration was written for.
TABLES = ("drawings", "drawing_revisions", "transmittals", "transmittal_recipients")
DISCIPLINES = "('A', 'ID', 'M', 'E', 'P', 'S', 'FF', 'FP', 'L', 'C', 'G', 'T', 'Q', 'AV', 'LT', 'SG')"
PURPOSES = "('for_information', 'for_review', 'for_construction', 'for_tender')"

COMMON = """
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    org_id uuid NOT NULL,
    version integer DEFAULT 1 NOT NULL,
    created_at timestamptz DEFAULT now() NOT NULL,
    updated_at timestamptz DEFAULT now() NOT NULL,
    project_id uuid NOT NULL,"""


def _common_constraints(table: str) -> str:
    return f"""
    CONSTRAINT pk_{table} PRIMARY KEY (id),
    CONSTRAINT fk_{table}_org_id_organizations FOREIGN KEY (org_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT fk_{table}_project_id_projects FOREIGN KEY (project_id)
        REFERENCES projects (id) ON DELETE CASCADE"""


CREATE = [
    f"""CREATE TABLE drawings ({COMMON}
    number text NOT NULL,
    title text NOT NULL,
    discipline text,
    discipline_override text,
    drawing_set text,
    current_revision_id uuid,
    created_by uuid,{_common_constraints("drawings")},
    CONSTRAINT fk_drawings_created_by_users FOREIGN KEY (created_by)
        REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT ck_drawings_title_length CHECK (length(title) BETWEEN 1 AND 300),
    CONSTRAINT ck_drawings_number CHECK (number ~ '^[A-Z0-9][A-Z0-9._/-]{{0,59}}$'),
    CONSTRAINT ck_drawings_discipline CHECK (discipline IS NULL OR discipline IN {DISCIPLINES}),
    CONSTRAINT ck_drawings_discipline_override CHECK (discipline_override IS NULL
        OR discipline_override IN {DISCIPLINES}),
    CONSTRAINT ck_drawings_drawing_set_length CHECK (drawing_set IS NULL
        OR length(drawing_set) BETWEEN 1 AND 100),
    CONSTRAINT uq_drawings_project_id_number UNIQUE (project_id, number))""",
    f"""CREATE TABLE drawing_revisions ({COMMON}
    drawing_id uuid NOT NULL,
    revision text NOT NULL,
    status text NOT NULL,
    attachment_id uuid,
    file_name text,
    issued_by uuid,
    issued_at timestamptz DEFAULT now() NOT NULL,
    published_by uuid,
    published_at timestamptz,
    superseded_at timestamptz,
    is_current boolean DEFAULT false NOT NULL,
    reason text,{_common_constraints("drawing_revisions")},
    CONSTRAINT fk_drawing_revisions_drawing_id_drawings FOREIGN KEY (drawing_id)
        REFERENCES drawings (id) ON DELETE CASCADE,
    CONSTRAINT fk_drawing_revisions_attachment_id_attachments FOREIGN KEY (attachment_id)
        REFERENCES attachments (id) ON DELETE SET NULL,
    CONSTRAINT fk_drawing_revisions_issued_by_users FOREIGN KEY (issued_by)
        REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT fk_drawing_revisions_published_by_users FOREIGN KEY (published_by)
        REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT ck_drawing_revisions_revision
        CHECK (revision ~ '^(P[0-9]{{2}}(\\.[0-9]{{2}})?|C[0-9]{{2}})$'),
    CONSTRAINT ck_drawing_revisions_status CHECK (status ~ '^(S[0-4]|[AB][1-9][0-9]?|CR)$'),
    CONSTRAINT ck_drawing_revisions_current_is_published
        CHECK (NOT is_current OR (published_at IS NOT NULL AND superseded_at IS NULL)),
    CONSTRAINT ck_drawing_revisions_superseded_was_published
        CHECK (superseded_at IS NULL OR published_at IS NOT NULL),
    CONSTRAINT ck_drawing_revisions_reason_length
        CHECK (reason IS NULL OR length(reason) <= 2000),
    CONSTRAINT uq_drawing_revisions_drawing_id_revision UNIQUE (drawing_id, revision))""",
    """ALTER TABLE drawings ADD CONSTRAINT fk_drawings_current_revision_id_drawing_revisions
    FOREIGN KEY (current_revision_id) REFERENCES drawing_revisions (id) ON DELETE SET NULL""",
    f"""CREATE TABLE transmittals ({COMMON}
    purpose text NOT NULL,
    message text,
    revision_ids uuid[] NOT NULL,
    sent_by uuid,
    sent_at timestamptz DEFAULT now() NOT NULL,{_common_constraints("transmittals")},
    CONSTRAINT fk_transmittals_sent_by_users FOREIGN KEY (sent_by)
        REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT ck_transmittals_purpose CHECK (purpose IN {PURPOSES}),
    CONSTRAINT ck_transmittals_revision_count
        CHECK (cardinality(revision_ids) BETWEEN 1 AND 500),
    CONSTRAINT ck_transmittals_message_length
        CHECK (message IS NULL OR length(message) <= 5000))""",
    f"""CREATE TABLE transmittal_recipients ({COMMON}
    transmittal_id uuid NOT NULL,
    user_id uuid NOT NULL,
    acknowledged_at timestamptz,{_common_constraints("transmittal_recipients")},
    CONSTRAINT fk_transmittal_recipients_transmittal_id_transmittals FOREIGN KEY
        (transmittal_id) REFERENCES transmittals (id) ON DELETE CASCADE,
    CONSTRAINT fk_transmittal_recipients_user_id_users FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT uq_transmittal_recipients_transmittal_id_user_id
        UNIQUE (transmittal_id, user_id))""",
]

INDEXES = {
    "drawings": ("org_id", "project_id", "created_by", "project_id, number, id"),
    "drawing_revisions": ("org_id", "project_id", "drawing_id", "attachment_id", "issued_by",
                          "published_by"),
    "transmittals": ("org_id", "project_id", "sent_by", "project_id, sent_at, id"),
    "transmittal_recipients": ("org_id", "project_id", "user_id"),
}
SPECIAL_INDEXES = (
    "CREATE UNIQUE INDEX ix_drawing_revisions_current ON drawing_revisions (drawing_id) "
    "WHERE is_current",
    "CREATE INDEX ix_transmittals_revision_ids ON transmittals USING gin (revision_ids)",
)

ORG = "org_id = app_org_id()"
VISIBLE = ("((SELECT app_is_org_admin()) OR project_id = ANY "
           "((SELECT app_visible_project_ids())::uuid[]))")
STAFF = "(SELECT app_user_client_id()) IS NULL"
# Client users: drawings with a published revision and published revisions only; their own
# transmittals and recipient rows. The
# subquery on transmittal_recipients runs under that table's policy (their own rows).
EXTRA: dict[str, str] = {
    "drawings": f"{STAFF} OR current_revision_id IS NOT NULL",
    "drawing_revisions": f"{STAFF} OR published_at IS NOT NULL",
    "transmittals": (f"{STAFF} OR id IN (SELECT r.transmittal_id "  # noqa: S608 - constants
                     "FROM transmittal_recipients r)"),
    "transmittal_recipients": f"{STAFF} OR user_id = app_user_id()",
}

# Attachments of a drawing revision are as visible as the revision (client users: published
# ones); the rest as revision 0015 left them.
ATTACHMENTS_0015 = (f"{STAFF} OR entity_type <> 'comment' "  # noqa: S608 - constants
                    "OR entity_id IN (SELECT c.id FROM comments c)")
ATTACHMENTS = (f"{STAFF} OR entity_type NOT IN ('comment', 'drawing_revision') "  # noqa: S608
               "OR (entity_type = 'comment' AND entity_id IN (SELECT c.id FROM comments c)) "
               "OR (entity_type = 'drawing_revision' "
               "AND entity_id IN (SELECT r.id FROM drawing_revisions r))")


def _attachments_policy(extra: str) -> None:
    op.execute("DROP POLICY tenant ON attachments")
    op.execute(f"CREATE POLICY tenant ON attachments TO formula_pm_app "
               f"USING ({ORG} AND {VISIBLE} AND ({extra}))")


def upgrade() -> None:
    for statement in CREATE:
        op.execute(statement)
    for table, columns in INDEXES.items():
        for cols in columns:
            name = f"ix_{table}_" + "_".join(c.strip() for c in cols.split(","))
            op.execute(f"CREATE INDEX {name} ON {table} ({cols})")
    for statement in SPECIAL_INDEXES:
        op.execute(statement)
    for table in TABLES:
        op.execute(f"""CREATE TRIGGER fpm_touch BEFORE UPDATE ON {table}
                       FOR EACH ROW EXECUTE FUNCTION fpm_touch_row()""")
        op.execute(f"""CREATE TRIGGER fpm_audit AFTER INSERT OR DELETE ON {table}
                       FOR EACH ROW EXECUTE FUNCTION fpm_audit_row()""")
        op.execute(f"""CREATE TRIGGER fpm_audit_update AFTER UPDATE ON {table}
                       FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version)
                       EXECUTE FUNCTION fpm_audit_row()""")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO formula_pm_app")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO formula_pm_system")
        condition = f"{ORG} AND {VISIBLE} AND ({EXTRA[table]})"
        op.execute(f"CREATE POLICY tenant ON {table} TO formula_pm_app USING ({condition})")
        op.execute(f"""CREATE POLICY system ON {table} TO formula_pm_system
                       USING (true) WITH CHECK (true)""")
    _attachments_policy(ATTACHMENTS)


def downgrade() -> None:
    _attachments_policy(ATTACHMENTS_0015)
    op.execute("DROP POLICY IF EXISTS tenant ON transmittals")  # reads transmittal_recipients
    op.execute("ALTER TABLE drawings DROP CONSTRAINT IF EXISTS "
               "fk_drawings_current_revision_id_drawing_revisions")
    for table in reversed(TABLES):
        op.execute(f"DROP TABLE IF EXISTS {table}")
