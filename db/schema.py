"""SQLAlchemy Core tables: the schema source that Alembic migrations are written from."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, INET, JSONB, TSVECTOR, UUID
from sqlalchemy.types import UserDefinedType

from db.audience import COMMENT_VISIBILITIES
from rules.drawings_register import DISCIPLINE_CODES, PURPOSES
from rules.enums import (
    CLIENT_STATUSES,
    DRAWING_STATUSES,
    PRIORITIES,
    PROJECT_STATUSES,
    PROJECT_TYPES,
    ROLES,
    SCOPE_STATUSES,
    SPEC_STATUSES,
    TASK_STATUSES,
    UNITS,
    USER_STATUSES,
)
from rules.punch_items import CATEGORIES as PUNCH_CATEGORIES
from rules.punch_items import STATUSES as PUNCH_STATUSES

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class XID8(UserDefinedType[Any]):
    """PostgreSQL's 64-bit transaction id (`pg_current_xact_id()`)."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "xid8"


ENTITY_TYPES = ("project", "task", "scope_item", "shop_drawing", "material_spec")
# Attachments may also belong to a comment (and are then as visible as the comment), to
# a revision of the drawing register, to a site diary, to a punch item (its photos;
# migration 0030) and to a review task (a reviewer's response, 0027).
ATTACHABLE_TYPES = (*ENTITY_TYPES, "comment", "drawing_revision", "site_diary", "punch_item",
                    "review_task")
DIARY_SECTIONS = ("manpower", "deliveries", "visitors", "delays", "safety")
# A material spec's delivery status beside its workflow state (migration 0031), in order.
DELIVERY_STATUSES = ("ordered", "in_fabrication", "shipped", "delivered", "received")
# An attachment is `pending` until its upload is completed, then `ready`.
ATTACHMENT_STATUSES = ("pending", "ready")
# Its thumbnail: NULL (not rendered yet), ready, failed, none (a type without previews).
THUMBNAIL_STATES = ("ready", "failed", "none")


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def _id() -> Column[Any]:
    return Column("id", UUID(as_uuid=True), primary_key=True,
                  server_default=text("gen_random_uuid()"))


def _common(org_fk: bool = True) -> list[Any]:
    """Columns every domain table carries: id, org, version and timestamps."""
    return [
        _id(),
        Column("org_id", UUID(as_uuid=True),
               ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("version", Integer, nullable=False, server_default=text("1")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ]


def _project_fk() -> Column[Any]:
    return Column("project_id", UUID(as_uuid=True),
                  ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True)


def _user_fk(name: str, ondelete: str = "SET NULL", nullable: bool = True) -> Column[Any]:
    return Column(name, UUID(as_uuid=True), ForeignKey("users.id", ondelete=ondelete),
                  nullable=nullable, index=True)


def _money(name: str, nullable: bool = True) -> Column[Any]:
    return Column(name, Numeric(14, 2), nullable=nullable)


def _links(name: str) -> Column[Any]:
    """Ids of the records joined by `item_links`, mirrored there by a trigger (0016)."""
    return Column(name, ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}")


def _search(expr: str) -> Column[Any]:
    return Column("search_vector", TSVECTOR, Computed(expr, persisted=True), nullable=False)


def _weighted(*parts: tuple[str, str]) -> str:
    return " || ".join(
        f"setweight(to_tsvector('simple', f_unaccent(coalesce({col}, ''))), '{w}')"
        for col, w in parts
    )


organizations = Table(
    "organizations", metadata,
    _id(),
    Column("name", Text, nullable=False),
    Column("slug", Text, nullable=False, unique=True),
    Column("version", Integer, nullable=False, server_default=text("1")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The organisation's calendar (migration 0025): its IANA time zone, working ISO weekdays
    # and holidays; every "day" of a project is reckoned in it (or the project's own zone).
    Column("time_zone", Text, nullable=False, server_default="UTC"),
    Column("workdays", ARRAY(SmallInteger), nullable=False, server_default="{1,2,3,4,5}"),
    Column("holidays", ARRAY(Date), nullable=False, server_default="{}"),
    CheckConstraint("slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'", name="slug_format"),
    CheckConstraint("length(time_zone) BETWEEN 1 AND 64", name="time_zone"),
    CheckConstraint("cardinality(workdays) BETWEEN 1 AND 7 AND workdays <@ '{1,2,3,4,5,6,7}'",
                    name="workdays"),
    CheckConstraint("cardinality(holidays) <= 1000", name="holidays"),
    CheckConstraint("length(name) BETWEEN 1 AND 300", name="name_length"),
)

clients = Table(
    "clients", metadata,
    *_common(),
    Column("name", Text, nullable=False),
    Column("company_name", Text),
    Column("contact_person", Text),
    Column("email", Text),
    Column("phone", Text),
    Column("address", Text),
    Column("city", Text),
    Column("country", Text),
    Column("industry", Text),
    Column("status", Text, nullable=False, server_default="active"),
    _money("contract_value"),
    Column("payment_terms", Text),
    Column("notes", Text),
    Column("legacy_id", Text),
    _search(_weighted(("name", "A"), ("company_name", "A"), ("contact_person", "B"),
                      ("industry", "C"), ("city", "C"))),
    CheckConstraint(_in("status", CLIENT_STATUSES), name="status"),
    CheckConstraint("contract_value IS NULL OR contract_value >= 0", name="contract_value"),
    CheckConstraint("length(name) BETWEEN 1 AND 300", name="name_length"),
    UniqueConstraint("org_id", "legacy_id"),
    Index("ix_clients_org_id_name", "org_id", "name"),
    Index("ix_clients_search", "search_vector", postgresql_using="gin"),
    Index("ix_clients_name_trgm", text("f_unaccent(name) gin_trgm_ops"), postgresql_using="gin"),
)

users = Table(
    "users", metadata,
    *_common(),
    Column("email", Text, nullable=False),
    Column("password_hash", Text),
    Column("client_id", UUID(as_uuid=True), ForeignKey("clients.id", ondelete="RESTRICT"),
           index=True),
    Column("first_name", Text, nullable=False),
    Column("last_name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("position", Text),
    Column("department", Text),
    Column("phone", Text),
    Column("status", Text, nullable=False, server_default="active"),
    Column("skills", ARRAY(Text), nullable=False, server_default="{}"),
    Column("last_login_at", DateTime(timezone=True)),
    Column("legacy_id", Text),
    CheckConstraint(_in("role", ROLES), name="role"),
    CheckConstraint(_in("status", USER_STATUSES), name="status"),
    CheckConstraint("(role = 'client') = (client_id IS NOT NULL)", name="client_role"),
    CheckConstraint("email LIKE '%_@_%' AND length(email) <= 320", name="email_format"),
    UniqueConstraint("org_id", "legacy_id"),
    Index("uq_users_email_lower", text("lower(email)"), unique=True),
    Index("ix_users_org_id_role", "org_id", "role"),
)

user_sessions = Table(
    "user_sessions", metadata,
    _id(),
    Column("user_id", UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("org_id", UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("refresh_hash", Text, nullable=False, unique=True),
    Column("previous_hash", Text, index=True),
    Column("generation", Integer, nullable=False, server_default=text("0")),
    Column("rotated_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revoked_reason", Text),
    Column("last_used_at", DateTime(timezone=True)),
    Column("ip", INET),
    Column("user_agent", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

password_tokens = Table(
    "password_tokens", metadata,
    _id(),
    Column("user_id", UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("purpose", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("purpose IN ('invite', 'reset')", name="purpose"),
)

projects = Table(
    "projects", metadata,
    *_common(),
    Column("name", Text, nullable=False),
    Column("description", Text),
    Column("type", Text, nullable=False),
    Column("status", Text, nullable=False, server_default="draft"),
    Column("priority", Text, nullable=False, server_default="medium"),
    _money("budget"),
    Column("start_date", Date),
    Column("end_date", Date),
    Column("progress", SmallInteger, nullable=False, server_default=text("0")),
    Column("location", Text),
    Column("client_id", UUID(as_uuid=True), ForeignKey("clients.id", ondelete="RESTRICT"),
           index=True),
    _user_fk("project_manager_id"),
    _user_fk("created_by"),
    Column("legacy_id", Text),
    # The project's own time zone, when it is not the organisation's (migration 0025).
    Column("time_zone", Text),
    # Handover (migration 0030): practical completion, and the defects period after it.
    Column("practical_completion_on", Date),
    Column("defects_period_months", SmallInteger, nullable=False, server_default=text("12")),
    # Working days from an RFI's creation to its default due date (migration 0027).
    Column("rfi_due_days", SmallInteger, nullable=False, server_default=text("7")),
    _search(_weighted(("name", "A"), ("location", "B"), ("description", "C"))),
    CheckConstraint(_in("type", PROJECT_TYPES), name="type"),
    CheckConstraint(_in("status", PROJECT_STATUSES), name="status"),
    CheckConstraint(_in("priority", PRIORITIES), name="priority"),
    CheckConstraint("progress BETWEEN 0 AND 100", name="progress"),
    CheckConstraint("budget IS NULL OR budget >= 0", name="budget"),
    CheckConstraint("end_date IS NULL OR start_date IS NULL OR end_date >= start_date",
                    name="dates"),
    CheckConstraint("length(name) BETWEEN 1 AND 300", name="name_length"),
    CheckConstraint("time_zone IS NULL OR length(time_zone) BETWEEN 1 AND 64", name="time_zone"),
    CheckConstraint("defects_period_months BETWEEN 0 AND 120", name="defects_period_months"),
    CheckConstraint("rfi_due_days BETWEEN 0 AND 365", name="rfi_due_days"),
    UniqueConstraint("org_id", "legacy_id"),
    Index("ix_projects_org_id_status", "org_id", "status"),
    Index("ix_projects_client_id_status", "client_id", "status"),
    Index("ix_projects_search", "search_vector", postgresql_using="gin"),
    Index("ix_projects_name_trgm", text("f_unaccent(name) gin_trgm_ops"), postgresql_using="gin"),
)

project_members = Table(
    "project_members", metadata,
    *_common(),
    _project_fk(),
    _user_fk("user_id", ondelete="CASCADE", nullable=False),
    Column("role", Text, nullable=False),
    CheckConstraint(_in("role", ROLES), name="role"),
    UniqueConstraint("project_id", "user_id"),
)

tasks = Table(
    "tasks", metadata,
    *_common(),
    _project_fk(),
    Column("name", Text, nullable=False),
    Column("description", Text),
    Column("status", Text, nullable=False, server_default="pending"),
    Column("priority", Text, nullable=False, server_default="medium"),
    _user_fk("assigned_to"),
    _user_fk("created_by"),
    Column("start_date", Date),
    Column("due_date", Date),
    Column("progress", SmallInteger, nullable=False, server_default=text("0")),
    Column("estimated_hours", Numeric(8, 2)),
    Column("actual_hours", Numeric(8, 2)),
    Column("completed_at", DateTime(timezone=True)),
    Column("category", Text),
    Column("tags", ARRAY(Text), nullable=False, server_default="{}"),
    Column("legacy_id", Text),
    _links("scope_item_ids"),
    _search(_weighted(("name", "A"), ("category", "B"), ("description", "C"))),
    CheckConstraint(_in("status", TASK_STATUSES), name="status"),
    CheckConstraint(_in("priority", PRIORITIES), name="priority"),
    CheckConstraint("progress BETWEEN 0 AND 100", name="progress"),
    CheckConstraint("estimated_hours IS NULL OR estimated_hours >= 0", name="estimated_hours"),
    CheckConstraint("actual_hours IS NULL OR actual_hours >= 0", name="actual_hours"),
    CheckConstraint("due_date IS NULL OR start_date IS NULL OR due_date >= start_date",
                    name="dates"),
    CheckConstraint("length(name) BETWEEN 1 AND 300", name="name_length"),
    UniqueConstraint("org_id", "legacy_id"),
    Index("ix_tasks_project_id_status", "project_id", "status"),
    Index("ix_tasks_project_id_created_at_id", "project_id", "created_at", "id"),
    Index("ix_tasks_search", "search_vector", postgresql_using="gin"),
    Index("ix_tasks_name_trgm", text("f_unaccent(name) gin_trgm_ops"), postgresql_using="gin"),
)

scope_groups = Table(
    "scope_groups", metadata,
    *_common(),
    _project_fk(),
    Column("name", Text, nullable=False),
    Column("description", Text),
    Column("order_index", Integer, nullable=False, server_default=text("0")),
    CheckConstraint("length(name) BETWEEN 1 AND 300", name="name_length"),
    UniqueConstraint("project_id", "name"),
)

scope_items = Table(
    "scope_items", metadata,
    *_common(),
    _project_fk(),
    Column("scope_group_id", UUID(as_uuid=True),
           ForeignKey("scope_groups.id", ondelete="RESTRICT"), nullable=False, index=True),
    Column("code", Text),
    Column("name", Text, nullable=False),
    Column("description", Text),
    Column("category", Text),
    Column("quantity", Numeric(14, 3)),
    Column("unit", Text),
    _money("unit_price"),
    _money("total_price"),
    Column("status", Text, nullable=False, server_default="pending"),
    Column("completion", SmallInteger, nullable=False, server_default=text("0")),
    Column("dependencies", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
    Column("start_date", Date),
    Column("end_date", Date),
    Column("notes", Text),
    Column("legacy_id", Text),
    _links("task_ids"),
    _links("shop_drawing_ids"),
    _links("material_spec_ids"),
    # Kept by the readiness trigger of migration 0031 from the linked records.
    Column("production_ready", Boolean, nullable=False, server_default=text("true")),
    _search(_weighted(("code", "A"), ("name", "A"), ("category", "B"), ("description", "C"))),
    CheckConstraint(_in("status", SCOPE_STATUSES), name="status"),
    CheckConstraint("unit IS NULL OR " + _in("unit", UNITS), name="unit"),
    CheckConstraint("completion BETWEEN 0 AND 100", name="completion"),
    CheckConstraint("quantity IS NULL OR quantity >= 0", name="quantity"),
    CheckConstraint("unit_price IS NULL OR unit_price >= 0", name="unit_price"),
    CheckConstraint("total_price IS NULL OR total_price >= 0", name="total_price"),
    CheckConstraint("end_date IS NULL OR start_date IS NULL OR end_date >= start_date",
                    name="dates"),
    CheckConstraint("length(name) BETWEEN 1 AND 300", name="name_length"),
    UniqueConstraint("org_id", "legacy_id"),
    UniqueConstraint("project_id", "code"),
    Index("ix_scope_items_project_id_status", "project_id", "status"),
    Index("ix_scope_items_search", "search_vector", postgresql_using="gin"),
    Index("ix_scope_items_code_trgm", text("f_unaccent(coalesce(code, '') || ' ' || name) "
                                           "gin_trgm_ops"), postgresql_using="gin"),
)

shop_drawings = Table(
    "shop_drawings", metadata,
    *_common(),
    _project_fk(),
    Column("drawing_number", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("drawing_type", Text),
    Column("room", Text),
    Column("revision", Text, nullable=False, server_default="Rev A"),
    Column("status", Text, nullable=False, server_default="draft"),
    _user_fk("created_by"),
    _user_fk("submitted_by"),
    Column("submitted_at", DateTime(timezone=True)),
    _user_fk("reviewed_by"),
    _user_fk("approved_by"),
    Column("approved_at", DateTime(timezone=True)),
    Column("file_name", Text),
    Column("file_size", BigInteger),
    Column("mime_type", Text),
    Column("storage_key", Text),
    Column("notes", Text),
    Column("legacy_id", Text),
    _links("scope_item_ids"),
    _search(_weighted(("drawing_number", "A"), ("title", "A"), ("room", "B"),
                      ("drawing_type", "C"))),
    CheckConstraint(_in("status", DRAWING_STATUSES), name="status"),
    CheckConstraint("revision ~ '^Rev [A-Z]{1,2}$'", name="revision_label"),
    CheckConstraint("file_size IS NULL OR file_size >= 0", name="file_size"),
    CheckConstraint("length(title) BETWEEN 1 AND 300", name="title_length"),
    UniqueConstraint("project_id", "drawing_number"),
    UniqueConstraint("org_id", "legacy_id"),
    Index("ix_shop_drawings_project_id_status", "project_id", "status"),
    # The submittal log's keyset pages (migration 0027).
    Index("ix_shop_drawings_project_id_drawing_number_id", "project_id", "drawing_number", "id"),
    Index("ix_shop_drawings_project_id_created_at_id", "project_id", "created_at", "id"),
    Index("ix_shop_drawings_search", "search_vector", postgresql_using="gin"),
    Index("ix_shop_drawings_number_trgm",
          text("f_unaccent(drawing_number || ' ' || title) gin_trgm_ops"),
          postgresql_using="gin"),
)

shop_drawing_revisions = Table(
    "shop_drawing_revisions", metadata,
    *_common(),
    _project_fk(),
    Column("drawing_id", UUID(as_uuid=True), ForeignKey("shop_drawings.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("revision", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("comment", Text),
    Column("file_name", Text),
    Column("file_size", BigInteger),
    _user_fk("closed_by"),
    Column("closed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(_in("status", DRAWING_STATUSES), name="status"),
    UniqueConstraint("drawing_id", "revision"),
)

material_specs = Table(
    "material_specs", metadata,
    *_common(),
    _project_fk(),
    Column("code", Text),
    Column("description", Text, nullable=False),
    Column("category", Text),
    Column("material", Text),
    Column("finish", Text),
    Column("manufacturer", Text),
    Column("supplier_name", Text),
    Column("supplier_contact", Text),
    Column("supplier_phone", Text),
    Column("supplier_email", Text),
    Column("quantity", Numeric(14, 3)),
    Column("unit", Text),
    _money("unit_cost"),
    Column("currency", Text, nullable=False, server_default="TRY"),
    _money("total_cost"),
    Column("lead_time_days", Integer),
    Column("status", Text, nullable=False, server_default="pending"),
    _user_fk("approved_by"),
    Column("approved_at", DateTime(timezone=True)),
    _user_fk("created_by"),
    Column("specification", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("notes", Text),
    Column("legacy_id", Text),
    _links("scope_item_ids"),
    # The procurement schedule and delivery (migration 0031).
    Column("required_on_site", Date),
    Column("design_review_days", Integer),
    Column("internal_review_days", Integer),
    Column("expected_delivery_on", Date),
    Column("delivery_status", Text),
    *(Column(f"{s}_on", Date) for s in DELIVERY_STATUSES),
    # The at-risk flags last computed, so a flip is noticed once (server/procurement.py).
    Column("risk_reasons", ARRAY(Text), nullable=False, server_default="{}"),
    Column("at_risk", Boolean, nullable=False, server_default=text("false")),
    _search(_weighted(("code", "A"), ("description", "A"), ("material", "B"),
                      ("manufacturer", "B"), ("supplier_name", "B"), ("category", "C"),
                      ("finish", "C"))),
    CheckConstraint(_in("status", SPEC_STATUSES), name="status"),
    CheckConstraint("quantity IS NULL OR quantity >= 0", name="quantity"),
    CheckConstraint("unit_cost IS NULL OR unit_cost >= 0", name="unit_cost"),
    CheckConstraint("total_cost IS NULL OR total_cost >= 0", name="total_cost"),
    CheckConstraint("lead_time_days IS NULL OR lead_time_days >= 0", name="lead_time"),
    CheckConstraint("(design_review_days IS NULL OR design_review_days BETWEEN 0 AND 3650) "
                    "AND (internal_review_days IS NULL OR internal_review_days BETWEEN 0 AND 3650)",
                    name="review_days"),
    CheckConstraint("delivery_status IS NULL OR (" + _in("delivery_status", DELIVERY_STATUSES)
                    + " AND status IN ('ordered', 'in_stock', 'delivered', 'used'))",
                    name="delivery_status"),
    CheckConstraint("cardinality(risk_reasons) <= 3 AND at_risk = (cardinality(risk_reasons) > 0)",
                    name="risk_reasons"),
    CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency"),
    CheckConstraint("length(description) BETWEEN 1 AND 100000", name="description_length"),
    UniqueConstraint("org_id", "legacy_id"),
    Index("ix_material_specs_project_id_status", "project_id", "status"),
    # The procurement schedule's order (specs without an on-site date last).
    Index("ix_material_specs_schedule", "project_id",
          text("coalesce(required_on_site, '9999-12-31'::date)"), "id"),
    # The submittal log's keyset pages (migration 0027; a spec's number is its code).
    Index("ix_material_specs_project_id_code_id", "project_id",
          text("(coalesce(code, ''::text))"), "id"),
    Index("ix_material_specs_project_id_created_at_id", "project_id", "created_at", "id"),
    Index("ix_material_specs_search", "search_vector", postgresql_using="gin"),
    Index("ix_material_specs_trgm",
          text("f_unaccent(coalesce(code, '') || ' ' || description || ' ' || "
               "coalesce(supplier_name, '') || ' ' || coalesce(manufacturer, '')) gin_trgm_ops"),
          postgresql_using="gin"),
)

item_links = Table(
    "item_links", metadata,
    *_common(),
    _project_fk(),
    Column("scope_item_id", UUID(as_uuid=True), ForeignKey("scope_items.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("task_id", UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE"), index=True),
    Column("shop_drawing_id", UUID(as_uuid=True),
           ForeignKey("shop_drawings.id", ondelete="CASCADE"), index=True),
    Column("material_spec_id", UUID(as_uuid=True),
           ForeignKey("material_specs.id", ondelete="CASCADE"), index=True),
    CheckConstraint("num_nonnulls(task_id, shop_drawing_id, material_spec_id) = 1",
                    name="one_target"),
    Index("uq_item_links_target", "scope_item_id",
          text("coalesce(task_id, shop_drawing_id, material_spec_id)"), unique=True),
)

comments = Table(
    "comments", metadata,
    *_common(),
    _project_fk(),
    Column("entity_type", Text, nullable=False),
    Column("entity_id", UUID(as_uuid=True), nullable=False),
    _user_fk("user_id", ondelete="CASCADE", nullable=False),
    Column("body", Text, nullable=False),
    Column("parent_id", UUID(as_uuid=True), ForeignKey("comments.id", ondelete="CASCADE"),
           index=True),
    _search("setweight(to_tsvector('simple', f_unaccent(body)), 'C')"),
    Column("visibility", Text, nullable=False, server_default="internal"),
    CheckConstraint(_in("entity_type", ENTITY_TYPES), name="entity_type"),
    CheckConstraint(_in("visibility", COMMENT_VISIBILITIES), name="visibility"),
    CheckConstraint("length(body) BETWEEN 1 AND 100000", name="body_length"),
    Index("ix_comments_entity", "entity_type", "entity_id", "created_at"),
    Index("ix_comments_search", "search_vector", postgresql_using="gin"),
)

mentions = Table(
    "mentions", metadata,
    *_common(),
    _project_fk(),
    Column("comment_id", UUID(as_uuid=True), ForeignKey("comments.id", ondelete="CASCADE"),
           nullable=False, index=True),
    _user_fk("user_id", ondelete="CASCADE", nullable=False),
    UniqueConstraint("comment_id", "user_id"),
)

# The drawing register (revision 0022): design and issued drawings, apart from shop drawings.
# A drawing's current revision is the one published revision not yet superseded; the
# partial unique index makes "exactly one current revision per drawing" a fact of the
# database, and `drawings.current_revision_id` points at it.
drawings = Table(
    "drawings", metadata,
    *_common(),
    _project_fk(),
    Column("number", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("discipline", Text),
    Column("discipline_override", Text),
    Column("drawing_set", Text),
    Column("current_revision_id", UUID(as_uuid=True),
           ForeignKey("drawing_revisions.id", ondelete="SET NULL", use_alter=True,
                      name="fk_drawings_current_revision_id_drawing_revisions")),
    _user_fk("created_by"),
    CheckConstraint("length(title) BETWEEN 1 AND 300", name="title_length"),
    CheckConstraint("number ~ '^[A-Z0-9][A-Z0-9._/-]{0,59}$'", name="number"),
    CheckConstraint("discipline IS NULL OR " + _in("discipline", DISCIPLINE_CODES),
                    name="discipline"),
    CheckConstraint("discipline_override IS NULL OR "
                    + _in("discipline_override", DISCIPLINE_CODES), name="discipline_override"),
    CheckConstraint("drawing_set IS NULL OR length(drawing_set) BETWEEN 1 AND 100",
                    name="drawing_set_length"),
    UniqueConstraint("project_id", "number"),
    Index("ix_drawings_project_id_number_id", "project_id", "number", "id"),
)

drawing_revisions = Table(
    "drawing_revisions", metadata,
    *_common(),
    _project_fk(),
    Column("drawing_id", UUID(as_uuid=True), ForeignKey("drawings.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("revision", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attachment_id", UUID(as_uuid=True),
           ForeignKey("attachments.id", ondelete="SET NULL"), index=True),
    Column("file_name", Text),
    _user_fk("issued_by"),
    Column("issued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    _user_fk("published_by"),
    Column("published_at", DateTime(timezone=True)),
    Column("superseded_at", DateTime(timezone=True)),
    Column("is_current", Boolean, nullable=False, server_default=text("false")),
    Column("reason", Text),
    CheckConstraint("revision ~ '^(P[0-9]{2}(\\.[0-9]{2})?|C[0-9]{2})$'", name="revision"),
    CheckConstraint("status ~ '^(S[0-4]|[AB][1-9][0-9]?|CR)$'", name="status"),
    CheckConstraint("NOT is_current OR (published_at IS NOT NULL AND superseded_at IS NULL)",
                    name="current_is_published"),
    CheckConstraint("superseded_at IS NULL OR published_at IS NOT NULL",
                    name="superseded_was_published"),
    CheckConstraint("reason IS NULL OR length(reason) <= 2000", name="reason_length"),
    UniqueConstraint("drawing_id", "revision"),
    Index("ix_drawing_revisions_current", "drawing_id", unique=True,
          postgresql_where=text("is_current")),
)

transmittals = Table(
    "transmittals", metadata,
    *_common(),
    _project_fk(),
    Column("purpose", Text, nullable=False),
    Column("message", Text),
    Column("revision_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
    _user_fk("sent_by"),
    Column("sent_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(_in("purpose", PURPOSES), name="purpose"),
    CheckConstraint("cardinality(revision_ids) BETWEEN 1 AND 500", name="revision_count"),
    CheckConstraint("message IS NULL OR length(message) <= 5000", name="message_length"),
    Index("ix_transmittals_project_id_sent_at_id", "project_id", "sent_at", "id"),
    Index("ix_transmittals_revision_ids", "revision_ids", postgresql_using="gin"),
)

transmittal_recipients = Table(
    "transmittal_recipients", metadata,
    *_common(),
    _project_fk(),
    Column("transmittal_id", UUID(as_uuid=True),
           ForeignKey("transmittals.id", ondelete="CASCADE"), nullable=False),
    _user_fk("user_id", ondelete="CASCADE", nullable=False),
    Column("acknowledged_at", DateTime(timezone=True)),
    UniqueConstraint("transmittal_id", "user_id"),
)

# The review engine (migration 0025): templates, reviews of records, reviewers' tasks.
review_templates = Table(
    "review_templates", metadata,
    *_common(),
    _project_fk(),
    Column("name", Text, nullable=False),
    Column("outcomes", JSONB, nullable=False),
    Column("steps", JSONB, nullable=False),
    _user_fk("created_by"),
    CheckConstraint("length(name) BETWEEN 1 AND 300", name="name_length"),
)

reviews = Table(
    "reviews", metadata,
    *_common(),
    _project_fk(),
    Column("entity_type", Text, nullable=False),
    Column("entity_id", UUID(as_uuid=True), nullable=False),
    Column("template_id", UUID(as_uuid=True),
           ForeignKey("review_templates.id", ondelete="SET NULL"), index=True),
    Column("name", Text, nullable=False),
    Column("outcomes", JSONB, nullable=False),
    Column("steps", JSONB, nullable=False),
    Column("status", Text, nullable=False, server_default="in_progress"),
    Column("current_step", Integer, nullable=False, server_default=text("0")),
    Column("result", Text),
    Column("result_status", Text),
    Column("comment", Text),
    _user_fk("initiated_by"),
    Column("started_on", Date, nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    CheckConstraint("entity_type IN ('shop_drawing', 'material_spec')", name="entity_type"),
    CheckConstraint("status IN ('in_progress', 'completed', 'terminated')", name="status"),
    CheckConstraint("current_step >= 0", name="current_step"),
    CheckConstraint("comment IS NULL OR length(comment) <= 10000", name="comment_length"),
    Index("ix_reviews_entity_type_entity_id_created_at", "entity_type", "entity_id",
          "created_at"),
    Index("ix_reviews_one_in_progress", "entity_type", "entity_id", unique=True,
          postgresql_where=text("status = 'in_progress'")),
)

review_tasks = Table(
    "review_tasks", metadata,
    *_common(),
    _project_fk(),
    Column("review_id", UUID(as_uuid=True), ForeignKey("reviews.id", ondelete="CASCADE"),
           nullable=False),
    Column("step", Integer, nullable=False),
    Column("reviewer_kind", Text, nullable=False),
    Column("reviewer_ref", Text, nullable=False),
    Column("required", Boolean, nullable=False, server_default=text("true")),
    Column("state", Text, nullable=False, server_default="pending"),
    Column("outcome", Text),
    Column("comment", Text),
    _user_fk("responded_by"),
    Column("responded_at", DateTime(timezone=True)),
    Column("assigned_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("due_on", Date, nullable=False),
    # The files (attachments of entity_type review_task) the response carries (0027).
    Column("attachment_ids", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
    CheckConstraint("reviewer_kind IN ('user', 'role', 'client')", name="reviewer_kind"),
    CheckConstraint("state IN ('pending', 'responded', 'skipped', 'closed')", name="state"),
    CheckConstraint("step >= 0", name="step"),
    CheckConstraint("(state = 'responded') = (outcome IS NOT NULL)", name="outcome"),
    CheckConstraint("cardinality(attachment_ids) <= 20", name="attachment_ids"),
    CheckConstraint("comment IS NULL OR length(comment) <= 10000", name="comment_length"),
    Index("ix_review_tasks_review_id_step", "review_id", "step"),
    Index("ix_review_tasks_reviewer_kind_reviewer_ref", "reviewer_kind", "reviewer_ref"),
)

# RFIs (migration 0025): numbered per project from rfi_counters (fpm_next_rfi_seq).
rfis = Table(
    "rfis", metadata,
    *_common(),
    _project_fk(),
    Column("seq", Integer, nullable=False),
    Column("number", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("question", Text, nullable=False),
    Column("discipline", Text),
    Column("location", Text),
    Column("priority", Text, nullable=False, server_default="normal"),
    Column("due_on", Date),
    Column("cost_impact", Text, nullable=False, server_default="unknown"),
    _money("cost_amount"),
    Column("schedule_impact", Text, nullable=False, server_default="unknown"),
    Column("schedule_days", Integer),
    Column("distribution", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
    Column("drawing_ids", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
    Column("revision_ids", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
    Column("scope_item_ids", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
    Column("status", Text, nullable=False, server_default="draft"),
    Column("official_response_id", UUID(as_uuid=True)),
    Column("comment", Text),
    _user_fk("created_by"),
    UniqueConstraint("project_id", "seq"),
    CheckConstraint("seq > 0", name="seq"),
    CheckConstraint("length(subject) BETWEEN 1 AND 300", name="subject_length"),
    CheckConstraint("length(question) BETWEEN 1 AND 100000", name="question_length"),
    CheckConstraint("priority IN ('low', 'normal', 'high')", name="priority"),
    CheckConstraint("status IN ('draft', 'open', 'answered', 'closed', 'void')", name="status"),
    CheckConstraint("cost_impact IN ('yes', 'no', 'unknown')", name="cost_impact"),
    CheckConstraint("schedule_impact IN ('yes', 'no', 'unknown')", name="schedule_impact"),
    CheckConstraint("cost_amount IS NULL OR (cost_impact = 'yes' AND cost_amount >= 0)",
                    name="cost_amount"),
    CheckConstraint("schedule_days IS NULL OR (schedule_impact = 'yes' AND schedule_days >= 0)",
                    name="schedule_days"),
    CheckConstraint("cardinality(distribution) <= 200", name="distribution"),
    CheckConstraint("cardinality(drawing_ids) <= 200 AND cardinality(revision_ids) <= 200 "
                    "AND cardinality(scope_item_ids) <= 200", name="links"),
    Index("ix_rfis_project_id_status_seq", "project_id", "status", "seq"),
    # The RFI log's keyset pages (migration 0027).
    Index("ix_rfis_project_id_seq_id", "project_id", "seq", "id"),
    Index("ix_rfis_project_id_due_on_id", "project_id",
          text("(coalesce(due_on, '9999-12-31'::date))"), "id"),
)

rfi_responses = Table(
    "rfi_responses", metadata,
    *_common(),
    _project_fk(),
    Column("rfi_id", UUID(as_uuid=True), ForeignKey("rfis.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("body", Text, nullable=False),
    _user_fk("author_id"),
    Column("official", Boolean, nullable=False, server_default=text("false")),
    CheckConstraint("length(body) BETWEEN 1 AND 100000", name="body_length"),
)

# An organisation's logo for its reports (migration 0029): PNG or JPEG, at most 256 KiB and
# 4096 px a side, checked before it is stored. Internal: the bytes stay out of the audit trail
# and the event feed; setting or removing one is a user-action audit row.
organization_logos = Table(
    "organization_logos", metadata,
    Column("org_id", UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE"),
           primary_key=True),
    Column("media_type", Text, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("media_type IN ('image/png', 'image/jpeg')", name="media_type"),
    CheckConstraint("octet_length(data) BETWEEN 1 AND 262144", name="size"),
    CheckConstraint("width BETWEEN 1 AND 4096 AND height BETWEEN 1 AND 4096", name="pixels"),
    CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256"),
)


# One per project per day; its entries are bounded JSON arrays checked by the API
# (server/routes/site_diaries.py), so one row version is one version of the diary.
site_diaries = Table(
    "site_diaries", metadata,
    *_common(),
    _project_fk(),
    Column("day", Date, nullable=False),
    Column("status", Text, nullable=False, server_default="open"),
    Column("weather", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    *(Column(name, JSONB, nullable=False, server_default=text("'[]'::jsonb"))
      for name in DIARY_SECTIONS),
    Column("notes", Text),
    _user_fk("completed_by"),
    Column("completed_at", DateTime(timezone=True)),
    Column("change_reason", Text),
    _user_fk("created_by"),
    UniqueConstraint("project_id", "day"),
    CheckConstraint("status IN ('open', 'complete')", name="status"),
    CheckConstraint("(status = 'complete') = (completed_at IS NOT NULL)", name="completed"),
    CheckConstraint("jsonb_typeof(weather) = 'object' AND octet_length(weather::text) <= 10000",
                    name="weather"),
    CheckConstraint(" AND ".join(
        f"jsonb_typeof({c}) = 'array' AND jsonb_array_length({c}) <= 200 "
        f"AND octet_length({c}::text) <= 1000000" for c in DIARY_SECTIONS), name="entries"),
    CheckConstraint("notes IS NULL OR length(notes) <= 100000", name="notes_length"),
    CheckConstraint("change_reason IS NULL OR length(change_reason) BETWEEN 1 AND 10000",
                    name="change_reason_length"),
)

# The last RFI number of each project; written only by fpm_next_rfi_seq (system role).
rfi_counters = Table(
    "rfi_counters", metadata,
    Column("project_id", UUID(as_uuid=True), ForeignKey("projects.id", ondelete="CASCADE"),
           primary_key=True),
    Column("last", Integer, nullable=False),
)

# The snag list (migration 0030): numbered per project from punch_item_counters
# (fpm_next_punch_number); a pin on a drawing revision as fractions of the sheet.
punch_items = Table(
    "punch_items", metadata,
    *_common(),
    _project_fk(),
    Column("number", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text),
    Column("location", Text),
    Column("room", Text),
    Column("trade", Text),
    Column("priority", Text, nullable=False, server_default="medium"),
    Column("category", Text, nullable=False, server_default="defect"),
    Column("due_on", Date),
    Column("status", Text, nullable=False, server_default="draft"),
    Column("drawing_id", UUID(as_uuid=True), ForeignKey("drawings.id", ondelete="SET NULL"),
           index=True),
    Column("drawing_revision_id", UUID(as_uuid=True),
           ForeignKey("drawing_revisions.id", ondelete="SET NULL"), index=True),
    Column("pin_x", Double),
    Column("pin_y", Double),
    Column("pin_needs_check", Boolean, nullable=False, server_default=text("false")),
    Column("assignee_user_ids", ARRAY(UUID(as_uuid=True)), nullable=False,
           server_default="{}"),
    Column("assignee_client_id", UUID(as_uuid=True),
           ForeignKey("clients.id", ondelete="SET NULL"), index=True),
    _user_fk("manager_id"),
    _user_fk("final_approver_id"),
    _user_fk("created_by"),
    Column("comment", Text),
    Column("closed_at", DateTime(timezone=True)),
    UniqueConstraint("project_id", "number"),
    CheckConstraint("number > 0", name="number"),
    CheckConstraint("length(title) BETWEEN 1 AND 300", name="title_length"),
    CheckConstraint("description IS NULL OR length(description) <= 100000",
                    name="description_length"),
    CheckConstraint("(location IS NULL OR length(location) <= 300) "
                    "AND (room IS NULL OR length(room) <= 300) "
                    "AND (trade IS NULL OR length(trade) <= 300)", name="texts"),
    CheckConstraint(_in("priority", PRIORITIES), name="priority"),
    CheckConstraint(_in("category", PUNCH_CATEGORIES), name="category"),
    CheckConstraint(_in("status", PUNCH_STATUSES), name="status"),
    CheckConstraint("(pin_x IS NULL) = (pin_y IS NULL) AND (pin_x IS NULL OR "
                    "(pin_x BETWEEN 0 AND 1 AND pin_y BETWEEN 0 AND 1))", name="pin"),
    CheckConstraint("cardinality(assignee_user_ids) <= 50", name="assignees"),
    CheckConstraint("comment IS NULL OR length(comment) <= 10000", name="comment_length"),
    Index("ix_punch_items_project_id_status_number", "project_id", "status", "number"),
    Index("ix_punch_items_project_id_due_on", "project_id", "due_on"),
    Index("ix_punch_items_assignee_user_ids", "assignee_user_ids", postgresql_using="gin"),
)

# The last punch item number of each project; written only by fpm_next_punch_number.
punch_item_counters = Table(
    "punch_item_counters", metadata,
    Column("project_id", UUID(as_uuid=True), ForeignKey("projects.id", ondelete="CASCADE"),
           primary_key=True),
    Column("last", Integer, nullable=False),
)

notifications = Table(
    "notifications", metadata,
    *_common(),
    _user_fk("user_id", ondelete="CASCADE", nullable=False),
    Column("project_id", UUID(as_uuid=True), ForeignKey("projects.id", ondelete="CASCADE"),
           index=True),
    Column("type", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("data", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("read_at", DateTime(timezone=True)),
    Index("ix_notifications_user_unread", "user_id", "created_at",
          postgresql_where=text("read_at IS NULL")),
    Index("ix_notifications_user_id_created_at_id", "user_id", "created_at", "id"),
)

# A user's notification channel per project (none: all projects) and kind (migration 0026).
notification_preferences = Table(
    "notification_preferences", metadata,
    *_common(),
    _user_fk("user_id", ondelete="CASCADE", nullable=False),
    Column("project_id", UUID(as_uuid=True), ForeignKey("projects.id", ondelete="CASCADE"),
           index=True),
    Column("kind", Text, nullable=False),
    Column("channel", Text, nullable=False),
    CheckConstraint("length(kind) BETWEEN 1 AND 64", name="kind_length"),
    CheckConstraint("channel IN ('live', 'email', 'digest', 'off')", name="channel"),
    CheckConstraint("kind <> 'action_required' OR channel <> 'off'", name="action_required"),
    Index("uq_notification_preferences_all", "user_id", "kind", unique=True,
          postgresql_where=text("project_id IS NULL")),
    Index("uq_notification_preferences_project", "user_id", "project_id", "kind", unique=True,
          postgresql_where=text("project_id IS NOT NULL")),
)

# Notifications still to be mailed, at once or in the next digest (internal).
notification_deliveries = Table(
    "notification_deliveries", metadata,
    Column("notification_id", UUID(as_uuid=True),
           ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True),
    Column("org_id", UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE"),
           nullable=False, index=True),
    _user_fk("user_id", ondelete="CASCADE", nullable=False),
    Column("channel", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True)),
    CheckConstraint("channel IN ('email', 'digest')", name="channel"),
    Index("ix_notification_deliveries_pending", "channel", "user_id",
          postgresql_where=text("sent_at IS NULL")),
)

# One "action required" reminder per (kind of task, task, user, day in the project's zone).
reminders_sent = Table(
    "reminders_sent", metadata,
    Column("kind", Text, primary_key=True),
    Column("task_id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"),
           primary_key=True, index=True),
    Column("day", Date, primary_key=True, index=True),
    Column("org_id", UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("sent_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# One daily digest per (user, day in the organisation's zone).
digests_sent = Table(
    "digests_sent", metadata,
    Column("user_id", UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"),
           primary_key=True),
    Column("day", Date, primary_key=True),
    Column("org_id", UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("items", Integer, nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

attachments = Table(
    "attachments", metadata,
    *_common(),
    _project_fk(),
    Column("entity_type", Text, nullable=False),
    Column("entity_id", UUID(as_uuid=True), nullable=False),
    Column("file_name", Text, nullable=False),
    Column("mime_type", Text),
    Column("size", BigInteger, nullable=False, server_default=text("0")),
    Column("storage_key", Text, nullable=False),
    _user_fk("uploaded_by"),
    Column("status", Text, nullable=False, server_default="pending"),
    Column("sha256", Text),
    # A shop drawing's revision label ("Rev B") when the file belongs to that revision.
    Column("revision", Text),
    # The unfinished multipart upload (S3's UploadId; "file" for chunked PUTs).
    Column("upload_id", Text),
    Column("thumbnail", Text),
    Column("completed_at", DateTime(timezone=True)),
    Column("deleted_at", DateTime(timezone=True)),
    CheckConstraint(_in("entity_type", ATTACHABLE_TYPES), name="entity_type"),
    CheckConstraint("size >= 0", name="size"),
    CheckConstraint(_in("status", ATTACHMENT_STATUSES), name="status"),
    CheckConstraint("thumbnail IS NULL OR " + _in("thumbnail", THUMBNAIL_STATES),
                    name="thumbnail"),
    CheckConstraint("sha256 IS NULL OR sha256 ~ '^[0-9a-f]{64}$'", name="sha256_format"),
    CheckConstraint("length(file_name) BETWEEN 1 AND 255", name="file_name_length"),
    UniqueConstraint("storage_key"),
    Index("ix_attachments_entity", "entity_type", "entity_id"),
    Index("ix_attachments_entity_id_created_at_id", "entity_id", "created_at", "id"),
    Index("ix_attachments_pending", "created_at", postgresql_where=text("status = 'pending'")),
    Index("ix_attachments_deleted", "deleted_at", postgresql_where=text("deleted_at IS NOT NULL")),
)

audit_logs = Table(
    "audit_logs", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("txid", XID8, nullable=False, server_default=text("pg_current_xact_id()")),
    Column("org_id", UUID(as_uuid=True)),
    Column("project_id", UUID(as_uuid=True)),
    Column("table_name", Text),
    Column("record_id", UUID(as_uuid=True)),
    Column("action", Text, nullable=False),
    Column("old_values", JSONB),
    Column("new_values", JSONB),
    Column("changed_fields", ARRAY(Text)),
    Column("user_id", UUID(as_uuid=True)),
    Column("request_id", Text),
    Column("origin_sid", Text),
    Column("ip", INET),
    Column("user_agent", Text),
    Column("details", JSONB),
    # Partitioned by month on `at` (migration 0024): the key holds the partition key.
    Column("at", DateTime(timezone=True), nullable=False, primary_key=True,
           server_default=text("clock_timestamp()")),
    # Written by a bulk import (the server-only setting app.bulk): not sent row by row.
    Column("bulk", Boolean, nullable=False, server_default=text("false")),
    Index("ix_audit_logs_txid_id", "txid", "id"),
    Index("ix_audit_logs_record", "table_name", "record_id", "id"),
    Index("ix_audit_logs_project_id_id", "project_id", "id"),
    Index("ix_audit_logs_org_id_at", "org_id", "at"),
    # A worker's last startup or shutdown (its previous run ended cleanly?), read at start.
    Index("ix_audit_logs_worker_life", "id",
          postgresql_where=text("org_id IS NULL AND action IN ('startup', 'shutdown')")),
    # The chain heads published into the log, read by `formula-pm audit verify`.
    Index("ix_audit_logs_chain_heads", "id",
          postgresql_where=text("action = 'audit_chain_head'")),
)

idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("user_id", UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"),
           primary_key=True),
    Column("key", Text, primary_key=True),
    Column("method", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("request_hash", Text, nullable=False),
    Column("status", Integer),
    Column("response", JSONB),
    Column("headers", JSONB),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)

realtime_cursor = Table(
    "realtime_cursor", metadata,
    Column("id", SmallInteger, primary_key=True, server_default=text("1")),
    Column("last_id", BigInteger, nullable=False, server_default=text("0")),
    Column("horizon", XID8, nullable=False, server_default=text("'0'::xid8")),
    Column("leader", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("id = 1", name="singleton"),
)

realtime_state = Table(
    "realtime_state", metadata,
    Column("id", SmallInteger, primary_key=True, server_default=text("1")),
    Column("listener_awake", Boolean, nullable=False, server_default=text("false")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("id = 1", name="singleton"),
)

# Words of an org's searchable records, for correcting misspelled queries (migration 0016).
search_words = Table(
    "search_words", metadata,
    Column("org_id", UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE"),
           nullable=False),
    Column("word", Text, nullable=False),
    Index("ix_search_words_org_id_word", "org_id", "word"),
)

# The hash chain over the audit log (migration 0023): one link per chained audit row, the
# head of each chain (an organisation's id, or "service"), and the digests of erased values.
# Written by the change leader (the system role) alone; see rules/audit_chain.py.
audit_chain_links = Table(
    "audit_chain_links", metadata,
    Column("audit_id", BigInteger, primary_key=True, autoincrement=False),
    Column("chain", Text, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", LargeBinary, nullable=False),
    CheckConstraint("seq > 0", name="seq"),
    CheckConstraint("octet_length(hash) = 32", name="hash"),
    UniqueConstraint("chain", "seq"),
)

audit_chain_heads = Table(
    "audit_chain_heads", metadata,
    Column("chain", Text, primary_key=True),
    Column("org_id", UUID(as_uuid=True)),
    Column("seq", BigInteger, nullable=False),
    Column("last_txid", XID8, nullable=False),
    Column("last_id", BigInteger, nullable=False),
    Column("hash", LargeBinary, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_seq", BigInteger),
    Column("published_at", DateTime(timezone=True)),
    CheckConstraint("octet_length(hash) = 32", name="hash"),
    Index("ix_audit_chain_heads_position", "last_txid", "last_id"),
)

audit_erasures = Table(
    "audit_erasures", metadata,
    Column("audit_id", BigInteger, primary_key=True, autoincrement=False),
    Column("field", Text, primary_key=True),
    Column("digest", LargeBinary, nullable=False),
    Column("erased_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("octet_length(digest) = 32", name="digest"),
)

# Where retention (whole monthly partitions of audit_logs dropped, migration 0024) cut each
# chain: the last dropped link. Written by the owner's definer function alone.
audit_retention = Table(
    "audit_retention", metadata,
    Column("chain", Text, primary_key=True),
    Column("partition", Text, primary_key=True),
    Column("through_seq", BigInteger, nullable=False),
    Column("through_hash", LargeBinary, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("dropped_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("octet_length(through_hash) = 32", name="hash"),
)

# audit_logs' partitions (audit_logs_pYYYYMM, audit_logs_default) come and go with the
# months: not described here, left out of comparisons (Alembic's `include_name`).
AUDIT_PARTITION = re.compile(r"audit_logs_(p[0-9]{6}|default)")


# Background export jobs (migration 0028): the requester's own rows, read and written as
# the requester (RLS: user and organisation); workers claim them as the system role.
EXPORT_JOB_STATUSES = ("queued", "running", "done", "failed", "expired")
export_jobs = Table(
    "export_jobs", metadata,
    _id(),
    Column("org_id", UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE"),
           nullable=False, index=True),
    _user_fk("user_id", ondelete="CASCADE", nullable=False),
    Column("kind", Text, nullable=False),
    Column("format", Text, nullable=False),
    Column("filters", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("status", Text, nullable=False, server_default="queued"),
    Column("done", BigInteger, nullable=False, server_default=text("0")),
    Column("total", BigInteger),
    Column("rows", BigInteger),
    Column("bytes", BigInteger),
    Column("object_key", Text),
    Column("file_name", Text),
    Column("media_type", Text),
    Column("error", Text),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("locked_by", Text),
    Column("heartbeat_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),
    CheckConstraint("status IN ('queued', 'running', 'done', 'failed', 'expired')",
                    name="status"),
    CheckConstraint("length(kind) BETWEEN 1 AND 64 AND length(format) BETWEEN 1 AND 16",
                    name="kind_format"),
    CheckConstraint("done >= 0 AND attempts >= 0", name="counts"),
    Index("ix_export_jobs_user_id_created_at_id", "user_id", "created_at", "id"),
    Index("ix_export_jobs_status_created_at", "status", "created_at"),
)


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    return not (type_ == "table" and name is not None and AUDIT_PARTITION.fullmatch(name))


# What each table is (org-wide, project, user or internal; audited, cached, searchable):
# db/tables.py.
