"""Scope links on both ends, and the words search may correct a misspelling to.

1. Scope links on both ends: `scope_item_ids` on tasks, shop drawings and material specs,
`task_ids`, `shop_drawing_ids`, `material_spec_ids` on scope items, kept from `item_links`.

`item_links` stays the source of truth (the importer, the demo seed and raw SQL write it).
A trigger on it mirrors every link into the two rows it joins, so that a link change is a
change of those records: their version and ETag move, the audit trail and the live
`task.updated` / `scope_item.updated` events name the field that changed (an
`item_link.deleted` event alone carries no data saying which pair was unlinked), and the
cached copies of both records are retired by the usual invalidation. Arrays are changed
element-wise (never recomputed from `item_links`), so two transactions linking the same
scope item at once both land: the second re-applies its change to the row the first
committed. An UPDATE whose array already holds the change (the API writes the array in the
same UPDATE as the record's other fields) is skipped, so one PATCH bumps the version once.

2. `search_words`: every word (3-33 letters a-z, as folded in the search vectors) that
occurs in an organisation's searchable records. Search widens a query word to its
neighbours one edit away (about 450 for an 8-letter word) and keeps only those found here,
so the tsquery it runs holds a handful of real words instead of hundreds: the planner then
estimates it well and uses the GIN indexes (with all 450 it chose sequential scans, 0.5-1 s
at 1,000 projects). Rows are only ever added, by a trigger when a record's search vector
changes; no unique constraint, so writers never wait on each other's new words (a race may
store a word twice, which a DISTINCT read absorbs). A word whose records are gone stays and
merely widens a query to a word that matches nothing. Only the system role reads it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (link column, table, its array of scope item ids, the scope items' array of its ids)
TARGETS = (
    ("task_id", "tasks", "task_ids"),
    ("shop_drawing_id", "shop_drawings", "shop_drawing_ids"),
    ("material_spec_id", "material_specs", "material_spec_ids"),
)
TOUCH_TRIGGERS = ("fpm_touch", "fpm_audit_update")
SEARCHABLE = ("projects", "clients", "tasks", "scope_items", "shop_drawings", "material_specs",
              "comments")
WORD = "w ~ '^[a-z]{3,33}$'"  # what a corrected word can look like (spelling.py)

LEARN_WORDS = f"""
CREATE FUNCTION fpm_learn_words() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
BEGIN
    INSERT INTO search_words (org_id, word)
    SELECT DISTINCT NEW.org_id, w FROM unnest(tsvector_to_array(NEW.search_vector)) AS w
    WHERE {WORD} AND NOT EXISTS (SELECT 1 FROM search_words s
                                 WHERE s.org_id = NEW.org_id AND s.word = w);
    RETURN NULL;
END $$
"""  # noqa: S608 - WORD, a constant

ADD = """
CREATE FUNCTION fpm_uuid_set_add(uuid[], uuid) RETURNS uuid[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $$ SELECT ARRAY(SELECT DISTINCT e FROM unnest($1 || $2) AS e ORDER BY e) $$
"""


def _mirror(link_col: str, table: str, reverse_col: str, sign: str) -> str:
    """Statements adding (`+`) or removing (`-`) one link on both of its rows."""
    rec = "NEW" if sign == "+" else "OLD"
    if sign == "+":
        forward = (f"UPDATE {table} SET scope_item_ids = fpm_uuid_set_add(scope_item_ids, "  # noqa: S608 - TARGETS
                   f"{rec}.scope_item_id) WHERE id = {rec}.{link_col} "
                   f"AND NOT ({rec}.scope_item_id = ANY (scope_item_ids));")
        reverse = (f"UPDATE scope_items SET {reverse_col} = fpm_uuid_set_add({reverse_col}, "  # noqa: S608 - TARGETS
                   f"{rec}.{link_col}) WHERE id = {rec}.scope_item_id "
                   f"AND NOT ({rec}.{link_col} = ANY ({reverse_col}));")
    else:
        forward = (f"UPDATE {table} SET scope_item_ids = array_remove(scope_item_ids, "  # noqa: S608 - TARGETS
                   f"{rec}.scope_item_id) WHERE id = {rec}.{link_col} "
                   f"AND {rec}.scope_item_id = ANY (scope_item_ids);")
        reverse = (f"UPDATE scope_items SET {reverse_col} = array_remove({reverse_col}, "  # noqa: S608 - TARGETS
                   f"{rec}.{link_col}) WHERE id = {rec}.scope_item_id "
                   f"AND {rec}.{link_col} = ANY ({reverse_col});")
    return (f"    IF {rec}.{link_col} IS NOT NULL THEN\n        {forward}\n"
            f"        {reverse}\n    END IF;")


def _function() -> str:
    removals = "\n".join(_mirror(*t, sign="-") for t in TARGETS)
    additions = "\n".join(_mirror(*t, sign="+") for t in TARGETS)
    # SECURITY INVOKER: the rows change under the writer's own row-level security.
    return f"""
CREATE FUNCTION fpm_mirror_item_link() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp
AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
{removals}
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
{additions}
    END IF;
    RETURN NULL;
END $$
"""


def _backfill() -> None:
    """Existing links into the arrays, as derived data: no version bump, no audit row (the
    row triggers are off meanwhile), read as the system role (past row-level security)."""
    tables = ["scope_items", *(t[1] for t in TARGETS)]
    for table in tables:
        for trigger in TOUCH_TRIGGERS:
            op.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
    op.execute("SET ROLE formula_pm_system")
    for link_col, table, reverse_col in TARGETS:
        op.execute(f"""UPDATE {table} x SET scope_item_ids = l.ids
                       FROM (SELECT {link_col} AS id,
                                    array_agg(DISTINCT scope_item_id ORDER BY scope_item_id) AS ids
                             FROM item_links WHERE {link_col} IS NOT NULL GROUP BY 1) l
                       WHERE x.id = l.id""")  # noqa: S608 - TARGETS
        op.execute(f"""UPDATE scope_items x SET {reverse_col} = l.ids
                       FROM (SELECT scope_item_id AS id,
                                    array_agg(DISTINCT {link_col} ORDER BY {link_col}) AS ids
                             FROM item_links WHERE {link_col} IS NOT NULL GROUP BY 1) l
                       WHERE x.id = l.id""")  # noqa: S608 - TARGETS
    op.execute("RESET ROLE")
    for table in tables:
        for trigger in TOUCH_TRIGGERS:
            op.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")


def _search_words() -> None:
    op.create_table(
        "search_words",
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("word", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE",
                                name=op.f("fk_search_words_org_id_organizations")),
    )
    op.create_index("ix_search_words_org_id_word", "search_words", ["org_id", "word"])
    op.execute("REVOKE ALL ON search_words FROM PUBLIC")
    op.execute("GRANT SELECT, INSERT, DELETE ON search_words TO formula_pm_system")
    op.execute(LEARN_WORDS)
    op.execute("ALTER FUNCTION fpm_learn_words() OWNER TO formula_pm_system")
    for table in SEARCHABLE:
        op.execute(f"""CREATE TRIGGER fpm_words AFTER INSERT ON {table}
                       FOR EACH ROW EXECUTE FUNCTION fpm_learn_words()""")
        op.execute(f"""CREATE TRIGGER fpm_words_changed AFTER UPDATE ON {table} FOR EACH ROW
                       WHEN (OLD.search_vector IS DISTINCT FROM NEW.search_vector)
                       EXECUTE FUNCTION fpm_learn_words()""")
    op.execute("SET ROLE formula_pm_system")  # past row-level security, as the trigger is
    for table in SEARCHABLE:
        op.execute(f"""INSERT INTO search_words (org_id, word)
                       SELECT DISTINCT x.org_id, w
                       FROM {table} x, unnest(tsvector_to_array(x.search_vector)) AS w
                       WHERE {WORD}
                       EXCEPT SELECT org_id, word FROM search_words""")  # noqa: S608 - SEARCHABLE, WORD
    op.execute("RESET ROLE")


def upgrade() -> None:
    _search_words()
    for _, table, reverse_col in TARGETS:
        op.execute(f"ALTER TABLE {table} ADD COLUMN scope_item_ids uuid[] NOT NULL DEFAULT '{{}}'")
        op.execute(f"ALTER TABLE scope_items ADD COLUMN {reverse_col} uuid[] NOT NULL "
                   "DEFAULT '{}'")
    op.execute(ADD)
    op.execute(_function())
    op.execute("""CREATE TRIGGER fpm_mirror AFTER INSERT OR UPDATE OR DELETE ON item_links
                  FOR EACH ROW EXECUTE FUNCTION fpm_mirror_item_link()""")
    _backfill()


def downgrade() -> None:
    for table in SEARCHABLE:
        op.execute(f"DROP TRIGGER IF EXISTS fpm_words ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS fpm_words_changed ON {table}")
    op.execute("DROP FUNCTION IF EXISTS fpm_learn_words()")
    op.execute("DROP TABLE IF EXISTS search_words")
    op.execute("DROP TRIGGER IF EXISTS fpm_mirror ON item_links")
    op.execute("DROP FUNCTION IF EXISTS fpm_mirror_item_link()")
    op.execute("DROP FUNCTION IF EXISTS fpm_uuid_set_add(uuid[], uuid)")
    for _, table, reverse_col in TARGETS:
        op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS scope_item_ids")
        op.execute(f"ALTER TABLE scope_items DROP COLUMN IF EXISTS {reverse_col}")
