"""Site diaries, the procurement schedule of material specs, scope readiness (issue #24,
items 3, 4 and 5).

- `site_diaries`: one per project per day (`day`, a date in the project's zone). Its
  entries are typed JSON arrays on the row (manpower, deliveries, visitors, delays, safety;
  weather an object), checked by the API and bounded here, so one row version is one whole
  version of the diary: the audit trail (`new_values` of each insert/update row) is its
  change history. `status` open -> complete; `change_reason` is the reason given with the
  last change after completion. Staff only: client users read no diary, no diary photo
  (attachments of entity_type `site_diary`), no diary event.
- material_specs: the procurement schedule (`required_on_site`, `design_review_days`,
  `internal_review_days`, `expected_delivery_on`; lead time is the existing
  `lead_time_days`), `delivery_status` (ordered -> in_fabrication -> shipped -> delivered ->
  received, each with its date) beside the workflow state, and the last computed at-risk
  flags (`risk_reasons`, and `at_risk` = any of them, held equal by a CHECK) so a flip is seen exactly once.
  A delivery status needs a spec the workflow has ordered (CHECK).
- scope_items.production_ready: kept by a trigger on shop_drawings, material_specs and
  item_links (`fpm_scope_readiness`), so a flip is an ordinary `scope_item.updated` event
  with `production_ready` in `changed_fields`.

Revision ID: 0031
Revises: 0028
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0031"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here: the state this migration was written for.
ATTACHABLE_BEFORE = ("project", "task", "scope_item", "shop_drawing", "material_spec",
                     "comment", "drawing_revision")
ATTACHABLE_AFTER = (*ATTACHABLE_BEFORE, "site_diary")
DELIVERY = ("ordered", "in_fabrication", "shipped", "delivered", "received")
ORDERED_STATES = ("ordered", "in_stock", "delivered", "used")
READY_DRAWINGS = ("approved", "approved_as_noted")
DELIVERED_STATES = ("delivered", "used")
DELIVERED_STATUSES = ("delivered", "received")

ORG = "org_id = app_org_id()"
VISIBLE = ("((SELECT app_is_org_admin()) OR project_id = ANY "
           "((SELECT app_visible_project_ids())::uuid[]))")
STAFF = "(SELECT app_user_client_id()) IS NULL"
ATTACHMENTS_0022 = (f"{STAFF} OR entity_type NOT IN ('comment', 'drawing_revision') "  # noqa: S608
                    "OR (entity_type = 'comment' AND entity_id IN (SELECT c.id FROM comments c)) "
                    "OR (entity_type = 'drawing_revision' "
                    "AND entity_id IN (SELECT r.id FROM drawing_revisions r))")
ATTACHMENTS = (f"{STAFF} OR entity_type NOT IN ('comment', 'drawing_revision', "  # noqa: S608
               "'site_diary') "
               "OR (entity_type = 'comment' AND entity_id IN (SELECT c.id FROM comments c)) "
               "OR (entity_type = 'drawing_revision' "
               "AND entity_id IN (SELECT r.id FROM drawing_revisions r))")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _array(column: str) -> str:
    return (f"jsonb_typeof({column}) = 'array' AND jsonb_array_length({column}) <= 200 "
            f"AND octet_length({column}::text) <= 1000000")


CREATE_DIARIES = f"""CREATE TABLE site_diaries (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    org_id uuid NOT NULL,
    version integer DEFAULT 1 NOT NULL,
    created_at timestamptz DEFAULT now() NOT NULL,
    updated_at timestamptz DEFAULT now() NOT NULL,
    project_id uuid NOT NULL,
    day date NOT NULL,
    status text DEFAULT 'open' NOT NULL,
    weather jsonb DEFAULT '{{}}'::jsonb NOT NULL,
    manpower jsonb DEFAULT '[]'::jsonb NOT NULL,
    deliveries jsonb DEFAULT '[]'::jsonb NOT NULL,
    visitors jsonb DEFAULT '[]'::jsonb NOT NULL,
    delays jsonb DEFAULT '[]'::jsonb NOT NULL,
    safety jsonb DEFAULT '[]'::jsonb NOT NULL,
    notes text,
    completed_by uuid,
    completed_at timestamptz,
    change_reason text,
    created_by uuid,
    CONSTRAINT pk_site_diaries PRIMARY KEY (id),
    CONSTRAINT fk_site_diaries_org_id_organizations FOREIGN KEY (org_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT fk_site_diaries_project_id_projects FOREIGN KEY (project_id)
        REFERENCES projects (id) ON DELETE CASCADE,
    CONSTRAINT fk_site_diaries_completed_by_users FOREIGN KEY (completed_by)
        REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT fk_site_diaries_created_by_users FOREIGN KEY (created_by)
        REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT uq_site_diaries_project_id_day UNIQUE (project_id, day),
    CONSTRAINT ck_site_diaries_status CHECK (status IN ('open', 'complete')),
    CONSTRAINT ck_site_diaries_completed CHECK ((status = 'complete') = (completed_at IS NOT NULL)),
    CONSTRAINT ck_site_diaries_weather CHECK (jsonb_typeof(weather) = 'object'
        AND octet_length(weather::text) <= 10000),
    CONSTRAINT ck_site_diaries_entries CHECK ({_array("manpower")} AND {_array("deliveries")}
        AND {_array("visitors")} AND {_array("delays")} AND {_array("safety")}),
    CONSTRAINT ck_site_diaries_notes_length CHECK (notes IS NULL OR length(notes) <= 100000),
    CONSTRAINT ck_site_diaries_change_reason_length
        CHECK (change_reason IS NULL OR length(change_reason) BETWEEN 1 AND 10000))"""

SPEC_COLUMNS = f"""
ALTER TABLE material_specs
    ADD COLUMN required_on_site date,
    ADD COLUMN design_review_days integer,
    ADD COLUMN internal_review_days integer,
    ADD COLUMN expected_delivery_on date,
    ADD COLUMN delivery_status text,
    ADD COLUMN ordered_on date,
    ADD COLUMN in_fabrication_on date,
    ADD COLUMN shipped_on date,
    ADD COLUMN delivered_on date,
    ADD COLUMN received_on date,
    ADD COLUMN risk_reasons text[] NOT NULL DEFAULT '{{}}',
    ADD COLUMN at_risk boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT ck_material_specs_review_days CHECK (
        (design_review_days IS NULL OR design_review_days BETWEEN 0 AND 3650)
        AND (internal_review_days IS NULL OR internal_review_days BETWEEN 0 AND 3650)),
    ADD CONSTRAINT ck_material_specs_delivery_status CHECK (delivery_status IS NULL
        OR ({_in("delivery_status", DELIVERY)} AND {_in("status", ORDERED_STATES)})),
    ADD CONSTRAINT ck_material_specs_risk_reasons CHECK (cardinality(risk_reasons) <= 3
        AND at_risk = (cardinality(risk_reasons) > 0));
CREATE INDEX ix_material_specs_schedule
    ON material_specs (project_id, (coalesce(required_on_site, '9999-12-31'::date)), id);
ALTER TABLE scope_items ADD COLUMN production_ready boolean NOT NULL DEFAULT true
"""

SPEC_COLUMNS_DOWN = """
ALTER TABLE scope_items DROP COLUMN production_ready;
DROP INDEX IF EXISTS ix_material_specs_schedule;
ALTER TABLE material_specs
    DROP COLUMN at_risk, DROP COLUMN risk_reasons, DROP COLUMN received_on,
    DROP COLUMN delivered_on, DROP COLUMN shipped_on, DROP COLUMN in_fabrication_on,
    DROP COLUMN ordered_on, DROP COLUMN delivery_status, DROP COLUMN expected_delivery_on,
    DROP COLUMN internal_review_days, DROP COLUMN design_review_days,
    DROP COLUMN required_on_site
"""

# The readiness of scope items, from their links: every linked shop drawing approved (or
# approved as noted) and every linked material spec delivered. Owned by the system role
# (reads every linked record whoever writes); a changed value bumps the item's version, so
# the flip is an audit row and a `scope_item.updated` event.
READINESS = f"""
CREATE FUNCTION fpm_scope_readiness(items uuid[]) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    UPDATE scope_items s SET production_ready = r.ready
    FROM (SELECT i.id, NOT EXISTS (
              SELECT 1 FROM item_links l
              LEFT JOIN shop_drawings d ON d.id = l.shop_drawing_id
              LEFT JOIN material_specs m ON m.id = l.material_spec_id
              WHERE l.scope_item_id = i.id
                AND ((l.shop_drawing_id IS NOT NULL AND {_in("d.status", READY_DRAWINGS)}
                      IS NOT TRUE)
                  OR (l.material_spec_id IS NOT NULL
                      AND ({_in("m.status", DELIVERED_STATES)} IS NOT TRUE)
                      AND ({_in("m.delivery_status", DELIVERED_STATUSES)} IS NOT TRUE)))
          ) AS ready
          FROM scope_items i WHERE i.id = ANY (items)) r
    WHERE s.id = r.id AND s.production_ready IS DISTINCT FROM r.ready
$$"""  # noqa: S608 - the frozen state lists of this migration
READINESS_TRIGGER = """
CREATE FUNCTION fpm_readiness_of_record() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
BEGIN
    IF TG_TABLE_NAME = 'item_links' THEN
        PERFORM fpm_scope_readiness(ARRAY[coalesce(NEW.scope_item_id, OLD.scope_item_id)]);
    ELSIF TG_TABLE_NAME = 'shop_drawings' THEN
        PERFORM fpm_scope_readiness(ARRAY(SELECT l.scope_item_id FROM item_links l
                                          WHERE l.shop_drawing_id = NEW.id));
    ELSE
        PERFORM fpm_scope_readiness(ARRAY(SELECT l.scope_item_id FROM item_links l
                                          WHERE l.material_spec_id = NEW.id));
    END IF;
    RETURN NULL;
END $$
"""
TRIGGERS = (
    """CREATE TRIGGER fpm_readiness AFTER INSERT OR DELETE ON item_links
       FOR EACH ROW EXECUTE FUNCTION fpm_readiness_of_record()""",
    """CREATE TRIGGER fpm_readiness AFTER UPDATE ON shop_drawings FOR EACH ROW
       WHEN (OLD.status IS DISTINCT FROM NEW.status)
       EXECUTE FUNCTION fpm_readiness_of_record()""",
    """CREATE TRIGGER fpm_readiness AFTER UPDATE ON material_specs FOR EACH ROW
       WHEN (OLD.status IS DISTINCT FROM NEW.status
             OR OLD.delivery_status IS DISTINCT FROM NEW.delivery_status)
       EXECUTE FUNCTION fpm_readiness_of_record()""",
)


def _run(script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            op.execute(statement)


def _attachments(types: tuple[str, ...], policy: str) -> None:
    op.execute("ALTER TABLE attachments DROP CONSTRAINT ck_attachments_entity_type")
    op.execute("ALTER TABLE attachments ADD CONSTRAINT ck_attachments_entity_type "
               f"CHECK ({_in('entity_type', types)})")
    op.execute("DROP POLICY tenant ON attachments")
    op.execute(f"CREATE POLICY tenant ON attachments TO formula_pm_app "
               f"USING ({ORG} AND {VISIBLE} AND ({policy}))")


def upgrade() -> None:
    op.execute(CREATE_DIARIES)
    op.execute("CREATE INDEX ix_site_diaries_org_id ON site_diaries (org_id)")
    op.execute("CREATE INDEX ix_site_diaries_project_id ON site_diaries (project_id)")
    op.execute("CREATE INDEX ix_site_diaries_completed_by ON site_diaries (completed_by)")
    op.execute("CREATE INDEX ix_site_diaries_created_by ON site_diaries (created_by)")
    op.execute("""CREATE TRIGGER fpm_touch BEFORE UPDATE ON site_diaries
                  FOR EACH ROW EXECUTE FUNCTION fpm_touch_row()""")
    op.execute("""CREATE TRIGGER fpm_audit AFTER INSERT OR DELETE ON site_diaries
                  FOR EACH ROW EXECUTE FUNCTION fpm_audit_row()""")
    op.execute("""CREATE TRIGGER fpm_audit_update AFTER UPDATE ON site_diaries
                  FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version)
                  EXECUTE FUNCTION fpm_audit_row()""")
    op.execute("ALTER TABLE site_diaries ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE site_diaries FORCE ROW LEVEL SECURITY")
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON site_diaries TO formula_pm_app")
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON site_diaries TO formula_pm_system")
    op.execute(f"CREATE POLICY tenant ON site_diaries TO formula_pm_app "
               f"USING ({ORG} AND {VISIBLE} AND ({STAFF}))")
    op.execute("""CREATE POLICY system ON site_diaries TO formula_pm_system
                  USING (true) WITH CHECK (true)""")
    _attachments(ATTACHABLE_AFTER, ATTACHMENTS)
    _run(SPEC_COLUMNS)
    op.execute(READINESS)
    op.execute(READINESS_TRIGGER)
    for name in ("fpm_scope_readiness(uuid[])", "fpm_readiness_of_record()"):
        op.execute(f"ALTER FUNCTION {name} OWNER TO formula_pm_system")
    for statement in TRIGGERS:
        op.execute(statement)
    # Existing items: their readiness as of now (moved as the system role, like a sweep).
    op.execute("SET LOCAL ROLE formula_pm_system")
    op.execute("SELECT fpm_scope_readiness(ARRAY(SELECT id FROM scope_items))")
    op.execute("RESET ROLE")


def downgrade() -> None:
    for table in ("item_links", "shop_drawings", "material_specs"):
        op.execute(f"DROP TRIGGER IF EXISTS fpm_readiness ON {table}")
    op.execute("DROP FUNCTION IF EXISTS fpm_readiness_of_record()")
    op.execute("DROP FUNCTION IF EXISTS fpm_scope_readiness(uuid[])")
    _run(SPEC_COLUMNS_DOWN)
    op.execute("DELETE FROM attachments WHERE entity_type = 'site_diary'")
    _attachments(ATTACHABLE_BEFORE, ATTACHMENTS_0022)
    op.execute("DROP TABLE IF EXISTS site_diaries")
