"""Comments are `internal` (staff only) or `shared` (the client too); row-level security hides
internal comments, their mentions and their attachments from client users.

Existing comments become `internal`: until now only staff could write comments, and staff
comments are internal unless their author shares them. Attachments may now belong to a
comment (entity_type `comment`), and inherit its visibility.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (never imported from db/schema.py): the state this migration was written for.
ENTITY_TYPES = ("project", "task", "scope_item", "shop_drawing", "material_spec")
ATTACHABLE = (*ENTITY_TYPES, "comment")

ORG = "org_id = app_org_id()"
VISIBLE = ("((SELECT app_is_org_admin()) OR project_id = ANY "
           "((SELECT app_visible_project_ids())::uuid[]))")
STAFF = "(SELECT app_user_client_id()) IS NULL"
# A subquery on comments runs under the comments policy: for a client user it sees only
# shared comments, so whatever hangs off an internal comment is hidden with it.
POLICIES = {
    "comments": f"{STAFF} OR visibility = 'shared'",
    "mentions": f"{STAFF} OR comment_id IN (SELECT c.id FROM comments c)",  # noqa: S608 - STAFF, a constant
    "attachments": (f"{STAFF} OR entity_type <> 'comment' "  # noqa: S608 - STAFF, a constant
                    "OR entity_id IN (SELECT c.id FROM comments c)"),
}


def _in(values: tuple[str, ...]) -> str:
    return "entity_type IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _tenant(table: str, extra: str | None) -> None:
    """The application role's policy (the system role has its own, 0017)."""
    op.execute(f"DROP POLICY tenant ON {table}")
    condition = f"{ORG} AND {VISIBLE}" + (f" AND ({extra})" if extra else "")
    op.execute(f"CREATE POLICY tenant ON {table} TO formula_pm_app USING ({condition})")


def upgrade() -> None:
    op.execute("ALTER TABLE comments ADD COLUMN visibility text NOT NULL DEFAULT 'internal'")
    op.execute("ALTER TABLE comments ADD CONSTRAINT ck_comments_visibility "
               "CHECK (visibility IN ('internal', 'shared'))")
    op.execute("ALTER TABLE attachments DROP CONSTRAINT ck_attachments_entity_type")
    op.execute("ALTER TABLE attachments ADD CONSTRAINT ck_attachments_entity_type "
               f"CHECK ({_in(ATTACHABLE)})")
    for table, extra in POLICIES.items():
        _tenant(table, extra)


def downgrade() -> None:
    for table in POLICIES:
        _tenant(table, None)
    op.execute("DELETE FROM attachments WHERE entity_type = 'comment'")
    op.execute("ALTER TABLE attachments DROP CONSTRAINT ck_attachments_entity_type")
    op.execute("ALTER TABLE attachments ADD CONSTRAINT ck_attachments_entity_type "
               f"CHECK ({_in(ENTITY_TYPES)})")
    op.execute("ALTER TABLE comments DROP CONSTRAINT ck_comments_visibility")
    op.execute("ALTER TABLE comments DROP COLUMN visibility")
