"""Calendars and the review engine (issue #23, items 1, 2 and 8).

Calendars: the organisation's time zone, working weekdays and holidays, and a project's
own time zone. Every "day" the service reasons about (due dates, "due
tomorrow", overdue) is a date in the project's zone: `projects.time_zone` when set, else the
organisation's.

The columns ride on audited tables (organizations, projects): a change is an audit row and an
event like any other change of those records; row-level security is theirs.

The review engine:
- `review_templates`: a project's templates: outcomes (label -> record status, most
  influential first) and ordered steps (reviewers, completion rule, working days), as JSON
  checked by `rules/reviews.py`. Staff only.
- `reviews`: a review of one record (`entity_type`, `entity_id`), with the template's
  outcomes and steps copied at the start (a later edit of the template changes no running
  review), its state, current step, result and the comment of its last transition.
- `review_tasks`: one per reviewer of a step: whom (`reviewer_kind` user / role / client,
  `reviewer_ref`), required or not, state, outcome, comment, due date (a date in the
  project's zone). Every response, reassignment, skip and termination is an UPDATE of these
  rows that carries its comment, so each is an audit row with from / to / actor / time /
  reason.
RFIs (item 4):
- `rfis`: a project's requests for information, numbered per project without gaps or
  duplicates (`seq`, shown as `RFI-001`) from `rfi_counters`, one row per project that
  `fpm_next_rfi_seq(project)` increments: the creating transaction holds that row's lock
  until it ends, so concurrent creators queue and a rolled-back creation gives its number
  back. Staff of the project read every RFI; a client user only those whose distribution
  list names them.
- `rfi_responses`: answers to an RFI, one of them marked official; as visible as the RFI.

Client users read the tasks addressed to them (their user, their client company) and the
reviews that hold one; staff of the project read everything. Audited, forced RLS, a
`system` policy, like every project table.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("review_templates", "reviews", "review_tasks", "rfis", "rfi_responses")
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
    f"""CREATE TABLE review_templates ({COMMON}
    name text NOT NULL,
    outcomes jsonb NOT NULL,
    steps jsonb NOT NULL,
    created_by uuid,{_common_constraints("review_templates")},
    CONSTRAINT fk_review_templates_created_by_users FOREIGN KEY (created_by)
        REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT ck_review_templates_name_length CHECK (length(name) BETWEEN 1 AND 300))""",
    f"""CREATE TABLE reviews ({COMMON}
    entity_type text NOT NULL,
    entity_id uuid NOT NULL,
    template_id uuid,
    name text NOT NULL,
    outcomes jsonb NOT NULL,
    steps jsonb NOT NULL,
    status text DEFAULT 'in_progress' NOT NULL,
    current_step integer DEFAULT 0 NOT NULL,
    result text,
    result_status text,
    comment text,
    initiated_by uuid,
    started_on date NOT NULL,
    finished_at timestamptz,{_common_constraints("reviews")},
    CONSTRAINT fk_reviews_template_id_review_templates FOREIGN KEY (template_id)
        REFERENCES review_templates (id) ON DELETE SET NULL,
    CONSTRAINT fk_reviews_initiated_by_users FOREIGN KEY (initiated_by)
        REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT ck_reviews_entity_type CHECK (entity_type IN ('shop_drawing', 'material_spec')),
    CONSTRAINT ck_reviews_status CHECK (status IN ('in_progress', 'completed', 'terminated')),
    CONSTRAINT ck_reviews_current_step CHECK (current_step >= 0),
    CONSTRAINT ck_reviews_comment_length CHECK (comment IS NULL OR length(comment) <= 10000))""",
    f"""CREATE TABLE review_tasks ({COMMON}
    review_id uuid NOT NULL,
    step integer NOT NULL,
    reviewer_kind text NOT NULL,
    reviewer_ref text NOT NULL,
    required boolean DEFAULT true NOT NULL,
    state text DEFAULT 'pending' NOT NULL,
    outcome text,
    comment text,
    responded_by uuid,
    responded_at timestamptz,
    assigned_at timestamptz DEFAULT now() NOT NULL,
    due_on date NOT NULL,{_common_constraints("review_tasks")},
    CONSTRAINT fk_review_tasks_review_id_reviews FOREIGN KEY (review_id)
        REFERENCES reviews (id) ON DELETE CASCADE,
    CONSTRAINT fk_review_tasks_responded_by_users FOREIGN KEY (responded_by)
        REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT ck_review_tasks_reviewer_kind CHECK (reviewer_kind IN ('user', 'role', 'client')),
    CONSTRAINT ck_review_tasks_state
        CHECK (state IN ('pending', 'responded', 'skipped', 'closed')),
    CONSTRAINT ck_review_tasks_step CHECK (step >= 0),
    CONSTRAINT ck_review_tasks_outcome CHECK ((state = 'responded') = (outcome IS NOT NULL)),
    CONSTRAINT ck_review_tasks_comment_length
        CHECK (comment IS NULL OR length(comment) <= 10000))""",
    f"""CREATE TABLE rfis ({COMMON}
    seq integer NOT NULL,
    number text NOT NULL,
    subject text NOT NULL,
    question text NOT NULL,
    discipline text,
    location text,
    priority text DEFAULT 'normal' NOT NULL,
    due_on date,
    cost_impact text DEFAULT 'unknown' NOT NULL,
    cost_amount numeric(14, 2),
    schedule_impact text DEFAULT 'unknown' NOT NULL,
    schedule_days integer,
    distribution uuid[] DEFAULT '{{}}' NOT NULL,
    drawing_ids uuid[] DEFAULT '{{}}' NOT NULL,
    revision_ids uuid[] DEFAULT '{{}}' NOT NULL,
    scope_item_ids uuid[] DEFAULT '{{}}' NOT NULL,
    status text DEFAULT 'draft' NOT NULL,
    official_response_id uuid,
    comment text,
    created_by uuid,{_common_constraints("rfis")},
    CONSTRAINT fk_rfis_created_by_users FOREIGN KEY (created_by)
        REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT uq_rfis_project_id_seq UNIQUE (project_id, seq),
    CONSTRAINT ck_rfis_seq CHECK (seq > 0),
    CONSTRAINT ck_rfis_subject_length CHECK (length(subject) BETWEEN 1 AND 300),
    CONSTRAINT ck_rfis_question_length CHECK (length(question) BETWEEN 1 AND 100000),
    CONSTRAINT ck_rfis_priority CHECK (priority IN ('low', 'normal', 'high')),
    CONSTRAINT ck_rfis_status CHECK (status IN ('draft', 'open', 'answered', 'closed', 'void')),
    CONSTRAINT ck_rfis_cost_impact CHECK (cost_impact IN ('yes', 'no', 'unknown')),
    CONSTRAINT ck_rfis_schedule_impact CHECK (schedule_impact IN ('yes', 'no', 'unknown')),
    CONSTRAINT ck_rfis_cost_amount CHECK (cost_amount IS NULL
        OR (cost_impact = 'yes' AND cost_amount >= 0)),
    CONSTRAINT ck_rfis_schedule_days CHECK (schedule_days IS NULL
        OR (schedule_impact = 'yes' AND schedule_days >= 0)),
    CONSTRAINT ck_rfis_distribution CHECK (cardinality(distribution) <= 200),
    CONSTRAINT ck_rfis_links CHECK (cardinality(drawing_ids) <= 200
        AND cardinality(revision_ids) <= 200 AND cardinality(scope_item_ids) <= 200))""",
    f"""CREATE TABLE rfi_responses ({COMMON}
    rfi_id uuid NOT NULL,
    body text NOT NULL,
    author_id uuid,
    official boolean DEFAULT false NOT NULL,{_common_constraints("rfi_responses")},
    CONSTRAINT fk_rfi_responses_rfi_id_rfis FOREIGN KEY (rfi_id)
        REFERENCES rfis (id) ON DELETE CASCADE,
    CONSTRAINT fk_rfi_responses_author_id_users FOREIGN KEY (author_id)
        REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT ck_rfi_responses_body_length CHECK (length(body) BETWEEN 1 AND 100000))""",
    """CREATE TABLE rfi_counters (
    project_id uuid NOT NULL,
    last integer NOT NULL,
    CONSTRAINT pk_rfi_counters PRIMARY KEY (project_id),
    CONSTRAINT fk_rfi_counters_project_id_projects FOREIGN KEY (project_id)
        REFERENCES projects (id) ON DELETE CASCADE)""",
]
COUNTER = """
CREATE FUNCTION fpm_next_rfi_seq(project uuid) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
    n integer;
BEGIN
    IF NOT app_can_see_project(project) THEN
        RAISE EXCEPTION 'project % is not visible', project USING ERRCODE = '42501';
    END IF;
    INSERT INTO rfi_counters AS c (project_id, last) VALUES (project, 1)
    ON CONFLICT (project_id) DO UPDATE SET last = c.last + 1
    RETURNING c.last INTO n;
    RETURN n;
END $$
"""
INDEXES = {
    "review_templates": ("org_id", "project_id", "created_by"),
    "reviews": ("org_id", "project_id", "template_id", "initiated_by",
                "entity_type, entity_id, created_at"),
    "review_tasks": ("org_id", "project_id", "review_id, step", "responded_by",
                     "reviewer_kind, reviewer_ref"),
    "rfis": ("org_id", "project_id", "created_by", "project_id, status, seq"),
    "rfi_responses": ("org_id", "project_id", "rfi_id", "author_id"),
}
ORG = "org_id = app_org_id()"
VISIBLE = ("((SELECT app_is_org_admin()) OR project_id = ANY "
           "((SELECT app_visible_project_ids())::uuid[]))")
STAFF = "(SELECT app_user_client_id()) IS NULL"
# Client users: the tasks addressed to them or to their client company, and the reviews that
# hold one (the subquery runs under review_tasks' policy); no templates.
EXTRA: dict[str, str] = {
    "review_templates": STAFF,
    "reviews": f"{STAFF} OR id IN (SELECT t.review_id FROM review_tasks t)",  # noqa: S608
    "review_tasks": (f"{STAFF} OR (reviewer_kind = 'user' AND reviewer_ref = "
                     "(SELECT app_user_id())::text) OR (reviewer_kind = 'client' AND "
                     "reviewer_ref = (SELECT app_user_client_id())::text)"),
    "rfis": f"{STAFF} OR app_user_id() = ANY (distribution)",
    "rfi_responses": f"{STAFF} OR rfi_id IN (SELECT r.id FROM rfis r)",  # noqa: S608
}

UP = """
ALTER TABLE organizations
    ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC',
    ADD COLUMN workdays smallint[] NOT NULL DEFAULT '{1,2,3,4,5}',
    ADD COLUMN holidays date[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT ck_organizations_time_zone CHECK (length(time_zone) BETWEEN 1 AND 64),
    ADD CONSTRAINT ck_organizations_workdays
        CHECK (cardinality(workdays) BETWEEN 1 AND 7 AND workdays <@ '{1,2,3,4,5,6,7}'),
    ADD CONSTRAINT ck_organizations_holidays CHECK (cardinality(holidays) <= 1000);
ALTER TABLE projects
    ADD COLUMN time_zone text,
    ADD CONSTRAINT ck_projects_time_zone
        CHECK (time_zone IS NULL OR length(time_zone) BETWEEN 1 AND 64);
"""

DOWN = """
ALTER TABLE projects DROP COLUMN time_zone;
ALTER TABLE organizations DROP COLUMN holidays, DROP COLUMN workdays, DROP COLUMN time_zone;
"""


def _run(script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    _run(UP)
    for statement in CREATE:
        op.execute(statement)
    for table, columns in INDEXES.items():
        for cols in columns:
            name = f"ix_{table}_" + "_".join(c.strip() for c in cols.split(","))
            op.execute(f"CREATE INDEX {name} ON {table} ({cols})")
    op.execute("ALTER TABLE rfi_counters ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE rfi_counters FORCE ROW LEVEL SECURITY")
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON rfi_counters TO formula_pm_system")
    op.execute("""CREATE POLICY system ON rfi_counters TO formula_pm_system
                  USING (true) WITH CHECK (true)""")
    op.execute(COUNTER)
    op.execute("ALTER FUNCTION fpm_next_rfi_seq(uuid) OWNER TO formula_pm_system")
    # One review in progress per record.
    op.execute("CREATE UNIQUE INDEX ix_reviews_one_in_progress ON reviews "
               "(entity_type, entity_id) WHERE status = 'in_progress'")
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


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS fpm_next_rfi_seq(uuid)")
    op.execute("DROP TABLE IF EXISTS rfi_counters")
    op.execute("DROP POLICY IF EXISTS tenant ON reviews")  # reads review_tasks
    op.execute("DROP POLICY IF EXISTS tenant ON rfi_responses")  # reads rfis
    for table in reversed(TABLES):
        op.execute(f"DROP TABLE IF EXISTS {table}")
    _run(DOWN)
