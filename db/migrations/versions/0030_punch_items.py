"""The snag list (punch items) and the handover dates of a project (issue #24, items 1, 2).

- `punch_items`: a project's snags, numbered per project without gaps or duplicates
  (`number`) from `punch_item_counters`, one row per project that
  `fpm_next_punch_number(project, n)` advances by `n` (a walk numbers many at once): the
  creating transaction holds that row's lock until it ends, so concurrent creators queue and
  a rolled-back creation gives its numbers back. A snag may carry a pin on a drawing
  revision (`drawing_id`, `drawing_revision_id`, `pin_x`, `pin_y` as fractions of the
  sheet); publishing the drawing's next revision moves the pins of the superseded one onto
  it and sets `pin_needs_check`. Its people: assignee users and/or an assignee client
  company, a manager, a final approver. Staff of the project read every snag; a client user
  reads the snags it created and, once initiated, those assigned to it or its company or
  whose final approver it is.
- `attachments` may belong to a punch item (its photos), and are then as visible as it.
- `projects.practical_completion_on` and `projects.defects_period_months` (default 12): the
  handover dates; the columns ride on the audited projects table.

Revision ID: 0030
Revises: 0026 (written on 0025; chained after main's head when main was merged)
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0030"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (never imported from the code): the state this migration was written for.
STATUSES = ("draft", "initiated", "work_required", "ready_for_review", "ready_to_close",
            "closed", "work_not_accepted", "in_dispute", "not_accepted")
PRIORITIES = ("low", "medium", "high", "urgent")
CATEGORIES = ("defect", "client_preference")
ATTACHABLE_BEFORE = ("project", "task", "scope_item", "shop_drawing", "material_spec",
                     "comment", "drawing_revision", "site_diary")
ATTACHABLE_AFTER = (*ATTACHABLE_BEFORE, "punch_item")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


CREATE = [
    f"""CREATE TABLE punch_items (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    org_id uuid NOT NULL,
    version integer DEFAULT 1 NOT NULL,
    created_at timestamptz DEFAULT now() NOT NULL,
    updated_at timestamptz DEFAULT now() NOT NULL,
    project_id uuid NOT NULL,
    number integer NOT NULL,
    title text NOT NULL,
    description text,
    location text,
    room text,
    trade text,
    priority text DEFAULT 'medium' NOT NULL,
    category text DEFAULT 'defect' NOT NULL,
    due_on date,
    status text DEFAULT 'draft' NOT NULL,
    drawing_id uuid,
    drawing_revision_id uuid,
    pin_x double precision,
    pin_y double precision,
    pin_needs_check boolean DEFAULT false NOT NULL,
    assignee_user_ids uuid[] DEFAULT '{{}}' NOT NULL,
    assignee_client_id uuid,
    manager_id uuid,
    final_approver_id uuid,
    created_by uuid,
    comment text,
    closed_at timestamptz,
    CONSTRAINT pk_punch_items PRIMARY KEY (id),
    CONSTRAINT fk_punch_items_org_id_organizations FOREIGN KEY (org_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT fk_punch_items_project_id_projects FOREIGN KEY (project_id)
        REFERENCES projects (id) ON DELETE CASCADE,
    CONSTRAINT fk_punch_items_drawing_id_drawings FOREIGN KEY (drawing_id)
        REFERENCES drawings (id) ON DELETE SET NULL,
    CONSTRAINT fk_punch_items_drawing_revision_id_drawing_revisions
        FOREIGN KEY (drawing_revision_id) REFERENCES drawing_revisions (id) ON DELETE SET NULL,
    CONSTRAINT fk_punch_items_assignee_client_id_clients FOREIGN KEY (assignee_client_id)
        REFERENCES clients (id) ON DELETE SET NULL,
    CONSTRAINT fk_punch_items_manager_id_users FOREIGN KEY (manager_id)
        REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT fk_punch_items_final_approver_id_users FOREIGN KEY (final_approver_id)
        REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT fk_punch_items_created_by_users FOREIGN KEY (created_by)
        REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT uq_punch_items_project_id_number UNIQUE (project_id, number),
    CONSTRAINT ck_punch_items_number CHECK (number > 0),
    CONSTRAINT ck_punch_items_title_length CHECK (length(title) BETWEEN 1 AND 300),
    CONSTRAINT ck_punch_items_description_length
        CHECK (description IS NULL OR length(description) <= 100000),
    CONSTRAINT ck_punch_items_texts CHECK ((location IS NULL OR length(location) <= 300)
        AND (room IS NULL OR length(room) <= 300) AND (trade IS NULL OR length(trade) <= 300)),
    CONSTRAINT ck_punch_items_priority CHECK ({_in("priority", PRIORITIES)}),
    CONSTRAINT ck_punch_items_category CHECK ({_in("category", CATEGORIES)}),
    CONSTRAINT ck_punch_items_status CHECK ({_in("status", STATUSES)}),
    CONSTRAINT ck_punch_items_pin CHECK ((pin_x IS NULL) = (pin_y IS NULL)
        AND (pin_x IS NULL OR (pin_x BETWEEN 0 AND 1 AND pin_y BETWEEN 0 AND 1))),
    CONSTRAINT ck_punch_items_assignees CHECK (cardinality(assignee_user_ids) <= 50),
    CONSTRAINT ck_punch_items_comment_length
        CHECK (comment IS NULL OR length(comment) <= 10000))""",
    """CREATE TABLE punch_item_counters (
    project_id uuid NOT NULL,
    last integer NOT NULL,
    CONSTRAINT pk_punch_item_counters PRIMARY KEY (project_id),
    CONSTRAINT fk_punch_item_counters_project_id_projects FOREIGN KEY (project_id)
        REFERENCES projects (id) ON DELETE CASCADE)""",
]
COUNTER = """
CREATE FUNCTION fpm_next_punch_number(project uuid, n integer) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
    last_taken integer;
BEGIN
    IF NOT app_can_see_project(project) THEN
        RAISE EXCEPTION 'project % is not visible', project USING ERRCODE = '42501';
    END IF;
    IF n IS NULL OR n < 1 OR n > 1000 THEN
        RAISE EXCEPTION 'between 1 and 1000 numbers at a time' USING ERRCODE = '22023';
    END IF;
    INSERT INTO punch_item_counters AS c (project_id, last) VALUES (project, n)
    ON CONFLICT (project_id) DO UPDATE SET last = c.last + n
    RETURNING c.last INTO last_taken;
    RETURN last_taken - n + 1;
END $$
"""
INDEXES = ("org_id", "project_id", "project_id, status, number", "created_by",
           "manager_id", "final_approver_id", "assignee_client_id", "drawing_id",
           "drawing_revision_id", "project_id, due_on")
ORG = "org_id = app_org_id()"
VISIBLE = ("((SELECT app_is_org_admin()) OR project_id = ANY "
           "((SELECT app_visible_project_ids())::uuid[]))")
STAFF = "(SELECT app_user_client_id()) IS NULL"
# Client users: what they created, and once initiated what is theirs to do or to approve.
CLIENTS = ("created_by = (SELECT app_user_id()) OR (status <> 'draft' AND ("
           "(SELECT app_user_id()) = ANY (assignee_user_ids) "
           "OR assignee_client_id = (SELECT app_user_client_id()) "
           "OR final_approver_id = (SELECT app_user_id())))")

# Attachments of a punch item are as visible as the punch item; the rest as 0031 left them.
ATTACHMENTS_0031 = (f"{STAFF} OR entity_type NOT IN ('comment', 'drawing_revision', "  # noqa: S608
                    "'site_diary') "
                    "OR (entity_type = 'comment' AND entity_id IN (SELECT c.id FROM comments c)) "
                    "OR (entity_type = 'drawing_revision' "
                    "AND entity_id IN (SELECT r.id FROM drawing_revisions r))")
ATTACHMENTS = (f"{STAFF} OR entity_type NOT IN ('comment', 'drawing_revision', "  # noqa: S608
               "'site_diary', 'punch_item') "
               "OR (entity_type = 'comment' AND entity_id IN (SELECT c.id FROM comments c)) "
               "OR (entity_type = 'drawing_revision' "
               "AND entity_id IN (SELECT r.id FROM drawing_revisions r)) "
               "OR (entity_type = 'punch_item' AND entity_id IN (SELECT p.id FROM punch_items p))")

UP = """
ALTER TABLE projects
    ADD COLUMN practical_completion_on date,
    ADD COLUMN defects_period_months smallint NOT NULL DEFAULT 12,
    ADD CONSTRAINT ck_projects_defects_period_months
        CHECK (defects_period_months BETWEEN 0 AND 120)
"""
DOWN = """
ALTER TABLE projects DROP COLUMN defects_period_months, DROP COLUMN practical_completion_on
"""


def _attachments(types: tuple[str, ...], policy: str) -> None:
    op.execute("ALTER TABLE attachments DROP CONSTRAINT ck_attachments_entity_type")
    op.execute("ALTER TABLE attachments ADD CONSTRAINT ck_attachments_entity_type "
               f"CHECK ({_in('entity_type', types)})")
    op.execute("DROP POLICY tenant ON attachments")
    op.execute(f"CREATE POLICY tenant ON attachments TO formula_pm_app "
               f"USING ({ORG} AND {VISIBLE} AND ({policy}))")


def upgrade() -> None:
    op.execute(UP)
    for statement in CREATE:
        op.execute(statement)
    for cols in INDEXES:
        name = "ix_punch_items_" + "_".join(c.strip() for c in cols.split(","))
        op.execute(f"CREATE INDEX {name} ON punch_items ({cols})")
    op.execute("CREATE INDEX ix_punch_items_assignee_user_ids ON punch_items "
               "USING gin (assignee_user_ids)")
    op.execute("ALTER TABLE punch_item_counters ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE punch_item_counters FORCE ROW LEVEL SECURITY")
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON punch_item_counters "
               "TO formula_pm_system")
    op.execute("""CREATE POLICY system ON punch_item_counters TO formula_pm_system
                  USING (true) WITH CHECK (true)""")
    op.execute(COUNTER)
    op.execute("ALTER FUNCTION fpm_next_punch_number(uuid, integer) OWNER TO formula_pm_system")
    table = "punch_items"
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
    op.execute(f"CREATE POLICY tenant ON {table} TO formula_pm_app "
               f"USING ({ORG} AND {VISIBLE} AND ({STAFF} OR {CLIENTS}))")
    op.execute(f"""CREATE POLICY system ON {table} TO formula_pm_system
                   USING (true) WITH CHECK (true)""")
    _attachments(ATTACHABLE_AFTER, ATTACHMENTS)


def downgrade() -> None:
    # Rows of punch items go with their table; their attachments first (SET LOCAL ROLE
    # formula_pm_system: the rows of every project, RLS notwithstanding).
    op.execute("SET LOCAL ROLE formula_pm_system")
    op.execute("DELETE FROM attachments WHERE entity_type = 'punch_item'")
    op.execute("RESET ROLE")
    _attachments(ATTACHABLE_BEFORE, ATTACHMENTS_0031)
    op.execute("DROP FUNCTION IF EXISTS fpm_next_punch_number(uuid, integer)")
    op.execute("DROP TABLE IF EXISTS punch_item_counters")
    op.execute("DROP TABLE IF EXISTS punch_items")
    op.execute(DOWN)
