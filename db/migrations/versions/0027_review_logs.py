"""The project logs, review-task attachments and the RFI due period (issue #23, items 6, 1, 4).

- Indexes for the logs' keyset pages (db/queries/logs.py): shop drawings and
  material specs of a project in number order (a spec's number is its code, '' when none)
  and in creation order, so a page of the union is a merge of two index scans that stops
  at the page's end, whatever the project's size; RFIs by number and by due date.
- Attachments may belong to a review task (the files of a reviewer's response). They are as
  visible as the task: client users see those of the tasks addressed to them.
  `review_tasks.attachment_ids` names the files a response carries (at most 20), set by
  the response itself, so one audit row holds the outcome, the comment and the files.
- `projects.rfi_due_days`: the working days from an RFI's creation to its default due date
  (7 until now a constant), 0 to 365. An audited column of an audited table.

Revision ID: 0027
Revises: 0030 (written against 0025; chained after 0030 at the merge: the attachment
types and policy below start from what 0031 and 0030 left)
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (never imported from db/schema.py): the state this migration was written for.
BEFORE = ("project", "task", "scope_item", "shop_drawing", "material_spec", "comment",
          "drawing_revision", "site_diary", "punch_item")
AFTER = (*BEFORE, "review_task")
INDEXES = (
    "CREATE INDEX ix_shop_drawings_project_id_drawing_number_id "
    "ON shop_drawings (project_id, drawing_number, id)",
    "CREATE INDEX ix_shop_drawings_project_id_created_at_id "
    "ON shop_drawings (project_id, created_at, id)",
    "CREATE INDEX ix_material_specs_project_id_code_id "
    "ON material_specs (project_id, (coalesce(code, '')), id)",
    "CREATE INDEX ix_material_specs_project_id_created_at_id "
    "ON material_specs (project_id, created_at, id)",
    "CREATE INDEX ix_rfis_project_id_seq_id ON rfis (project_id, seq, id)",
    "CREATE INDEX ix_rfis_project_id_due_on_id "
    "ON rfis (project_id, (coalesce(due_on, '9999-12-31'::date)), id)",
)
ORG = "org_id = app_org_id()"
VISIBLE = ("((SELECT app_is_org_admin()) OR project_id = ANY "
           "((SELECT app_visible_project_ids())::uuid[]))")
STAFF = "(SELECT app_user_client_id()) IS NULL"
ATTACHMENTS_0030 = (f"{STAFF} OR entity_type NOT IN ('comment', 'drawing_revision', "  # noqa: S608
                    "'site_diary', 'punch_item') "
                    "OR (entity_type = 'comment' AND entity_id IN (SELECT c.id FROM comments c)) "
                    "OR (entity_type = 'drawing_revision' "
                    "AND entity_id IN (SELECT r.id FROM drawing_revisions r)) "
                    "OR (entity_type = 'punch_item' "
                    "AND entity_id IN (SELECT p.id FROM punch_items p))")
# A review task's files: the subquery runs under review_tasks' policy (client users: the
# tasks addressed to them or to their company).
ATTACHMENTS = (f"{STAFF} OR entity_type NOT IN ('comment', 'drawing_revision', "  # noqa: S608
               "'site_diary', 'punch_item', 'review_task') "
               "OR (entity_type = 'comment' AND entity_id IN (SELECT c.id FROM comments c)) "
               "OR (entity_type = 'drawing_revision' "
               "AND entity_id IN (SELECT r.id FROM drawing_revisions r)) "
               "OR (entity_type = 'punch_item' AND entity_id IN (SELECT p.id FROM punch_items p)) "
               "OR (entity_type = 'review_task' "
               "AND entity_id IN (SELECT t.id FROM review_tasks t))")


# RFIs: the same rule as 0025, but staff-ness is one boolean InitPlan. PostgreSQL guesses
# `(SELECT ...) IS NULL` matches 0.5% of rows and plans a project's RFI list as a
# sequential scan and a sort; a bare boolean it guesses at one half, and pages the list
# from the (project_id, seq, id) index.
RFIS_0025 = f"{STAFF} OR app_user_id() = ANY (distribution)"
RFIS = "(SELECT app_user_client_id() IS NULL) OR app_user_id() = ANY (distribution)"

RESPONSES = (f"{ORG} AND {VISIBLE} AND ({STAFF} "  # noqa: S608 - constants
             "OR rfi_id IN (SELECT r.id FROM rfis r))")


def _rfis_policy(extra: str) -> None:
    op.execute("DROP POLICY tenant ON rfis")
    op.execute(f"CREATE POLICY tenant ON rfis TO formula_pm_app "
               f"USING ({ORG} AND {VISIBLE} AND ({extra}))")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _entity_types(values: tuple[str, ...]) -> None:
    op.execute("ALTER TABLE attachments DROP CONSTRAINT ck_attachments_entity_type")
    op.execute("ALTER TABLE attachments ADD CONSTRAINT ck_attachments_entity_type "
               f"CHECK ({_in('entity_type', values)})")


def _attachments_policy(extra: str) -> None:
    op.execute("DROP POLICY tenant ON attachments")
    op.execute(f"CREATE POLICY tenant ON attachments TO formula_pm_app "
               f"USING ({ORG} AND {VISIBLE} AND ({extra}))")


def upgrade() -> None:
    for statement in INDEXES:
        op.execute(statement)
    _entity_types(AFTER)
    _attachments_policy(ATTACHMENTS)
    op.execute("DROP POLICY tenant ON rfi_responses")  # reads rfis
    _rfis_policy(RFIS)
    op.execute(f"CREATE POLICY tenant ON rfi_responses TO formula_pm_app USING ({RESPONSES})")
    op.execute("ALTER TABLE review_tasks ADD COLUMN attachment_ids uuid[] NOT NULL "
               "DEFAULT '{}'")
    op.execute("ALTER TABLE review_tasks ADD CONSTRAINT ck_review_tasks_attachment_ids "
               "CHECK (cardinality(attachment_ids) <= 20)")
    op.execute("ALTER TABLE projects ADD COLUMN rfi_due_days smallint NOT NULL DEFAULT 7")
    op.execute("ALTER TABLE projects ADD CONSTRAINT ck_projects_rfi_due_days "
               "CHECK (rfi_due_days BETWEEN 0 AND 365)")


def downgrade() -> None:
    op.execute("ALTER TABLE projects DROP COLUMN rfi_due_days")
    op.execute("ALTER TABLE review_tasks DROP COLUMN attachment_ids")
    _attachments_policy(ATTACHMENTS_0030)
    op.execute("DROP POLICY tenant ON rfi_responses")
    _rfis_policy(RFIS_0025)
    op.execute(f"CREATE POLICY tenant ON rfi_responses TO formula_pm_app USING ({RESPONSES})")
    op.execute("SET LOCAL ROLE formula_pm_system")
    op.execute("DELETE FROM attachments WHERE entity_type = 'review_task'")
    op.execute("RESET ROLE")
    _entity_types(BEFORE)
    for statement in INDEXES:
        name = statement.split()[2]
        op.execute(f"DROP INDEX IF EXISTS {name}")
