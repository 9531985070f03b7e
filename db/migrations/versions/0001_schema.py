"""Tables, constraints and indexes of every resource (generated from db/schema.py).

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import UserDefinedType

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


class XID8(UserDefinedType[Any]):
    """PostgreSQL's 64-bit transaction id, frozen here rather than imported from db.schema."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "xid8"


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    # unaccent() is only STABLE; generated columns and indexes need an IMMUTABLE wrapper.
    op.execute("""
        CREATE OR REPLACE FUNCTION f_unaccent(text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
        AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$
    """)
    op.create_table(
        "audit_logs",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("txid", XID8(), server_default=sa.text("pg_current_xact_id()"), nullable=False),
        sa.Column("org_id", sa.UUID(), nullable=True),
        sa.Column("project_id", sa.UUID(), nullable=True),
        sa.Column("table_name", sa.Text(), nullable=True),
        sa.Column("record_id", sa.UUID(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("old_values", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("new_values", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("changed_fields", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("origin_sid", sa.Text(), nullable=True),
        sa.Column("ip", postgresql.INET(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_logs")),
    )
    op.create_index(op.f("ix_audit_logs_org_id"), "audit_logs", ["org_id"], unique=False)
    op.create_index("ix_audit_logs_org_id_at", "audit_logs", ["org_id", "at"], unique=False)
    op.create_index("ix_audit_logs_project_id_id", "audit_logs", ["project_id", "id"], unique=False)
    op.create_index(
        "ix_audit_logs_record", "audit_logs", ["table_name", "record_id", "id"], unique=False
    )
    op.create_index("ix_audit_logs_txid_id", "audit_logs", ["txid", "id"], unique=False)
    op.create_index("ix_audit_logs_user_id_at", "audit_logs", ["user_id", "at"], unique=False)
    op.create_table(
        "organizations",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'", name=op.f("ck_organizations_slug_format")
        ),
        sa.CheckConstraint(
            "length(name) BETWEEN 1 AND 300", name=op.f("ck_organizations_name_length")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
        sa.UniqueConstraint("slug", name=op.f("uq_organizations_slug")),
    )
    op.create_table(
        "realtime_cursor",
        sa.Column("id", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("last_id", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("horizon", XID8(), server_default=sa.text("'0'::xid8"), nullable=False),
        sa.Column("leader", sa.Text(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("id = 1", name=op.f("ck_realtime_cursor_singleton")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_realtime_cursor")),
    )
    op.create_table(
        "realtime_state",
        sa.Column("id", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("listener_awake", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("id = 1", name=op.f("ck_realtime_state_singleton")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_realtime_state")),
    )
    op.create_table(
        "clients",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("company_name", sa.Text(), nullable=True),
        sa.Column("contact_person", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("city", sa.Text(), nullable=True),
        sa.Column("country", sa.Text(), nullable=True),
        sa.Column("industry", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("contract_value", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("payment_terms", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("legacy_id", sa.Text(), nullable=True),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                "setweight(to_tsvector('simple', f_unaccent(coalesce(name, ''))), 'A') || setweight(to_tsvector('simple', f_unaccent(coalesce(company_name, ''))), 'A') || setweight(to_tsvector('simple', f_unaccent(coalesce(contact_person, ''))), 'B') || setweight(to_tsvector('simple', f_unaccent(coalesce(industry, ''))), 'C') || setweight(to_tsvector('simple', f_unaccent(coalesce(city, ''))), 'C')",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('active', 'prospect', 'inactive', 'archived')",
            name=op.f("ck_clients_status"),
        ),
        sa.CheckConstraint(
            "contract_value IS NULL OR contract_value >= 0", name=op.f("ck_clients_contract_value")
        ),
        sa.CheckConstraint("length(name) BETWEEN 1 AND 300", name=op.f("ck_clients_name_length")),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_clients_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients")),
        sa.UniqueConstraint("org_id", "legacy_id", name=op.f("uq_clients_org_id_legacy_id")),
    )
    op.create_index(
        "ix_clients_name_trgm",
        "clients",
        [sa.literal_column("f_unaccent(name) gin_trgm_ops")],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(op.f("ix_clients_org_id"), "clients", ["org_id"], unique=False)
    op.create_index("ix_clients_org_id_name", "clients", ["org_id", "name"], unique=False)
    op.create_index(
        "ix_clients_search", "clients", ["search_vector"], unique=False, postgresql_using="gin"
    )
    op.create_table(
        "users",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("client_id", sa.UUID(), nullable=True),
        sa.Column("first_name", sa.Text(), nullable=False),
        sa.Column("last_name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("position", sa.Text(), nullable=True),
        sa.Column("department", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("skills", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("legacy_id", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(role = 'client') = (client_id IS NOT NULL)", name=op.f("ck_users_client_role")
        ),
        sa.CheckConstraint(
            "email LIKE '%_@_%' AND length(email) <= 320", name=op.f("ck_users_email_format")
        ),
        sa.CheckConstraint(
            "role IN ('admin', 'project_manager', 'designer', 'coordinator', 'craftsman', 'client')",
            name=op.f("ck_users_role"),
        ),
        sa.CheckConstraint(
            "status IN ('active', 'invited', 'inactive')", name=op.f("ck_users_status")
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_users_client_id_clients"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_users_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("org_id", "legacy_id", name=op.f("uq_users_org_id_legacy_id")),
    )
    op.create_index(op.f("ix_users_client_id"), "users", ["client_id"], unique=False)
    op.create_index(op.f("ix_users_org_id"), "users", ["org_id"], unique=False)
    op.create_index("ix_users_org_id_role", "users", ["org_id", "role"], unique=False)
    op.create_index(
        "uq_users_email_lower", "users", [sa.literal_column("lower(email)")], unique=True
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_idempotency_keys_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(
        op.f("ix_idempotency_keys_expires_at"), "idempotency_keys", ["expires_at"], unique=False
    )
    op.create_table(
        "password_tokens",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "purpose IN ('invite', 'reset')", name=op.f("ck_password_tokens_purpose")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_password_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_tokens_token_hash")),
    )
    op.create_index(
        op.f("ix_password_tokens_user_id"), "password_tokens", ["user_id"], unique=False
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="draft", nullable=False),
        sa.Column("priority", sa.Text(), server_default="medium", nullable=False),
        sa.Column("budget", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("progress", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("client_id", sa.UUID(), nullable=True),
        sa.Column("project_manager_id", sa.UUID(), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("legacy_id", sa.Text(), nullable=True),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                "setweight(to_tsvector('simple', f_unaccent(coalesce(name, ''))), 'A') || setweight(to_tsvector('simple', f_unaccent(coalesce(location, ''))), 'B') || setweight(to_tsvector('simple', f_unaccent(coalesce(description, ''))), 'C')",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "priority IN ('low', 'medium', 'high', 'urgent')", name=op.f("ck_projects_priority")
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'on_tender', 'active', 'on_hold', 'completed', 'cancelled')",
            name=op.f("ck_projects_status"),
        ),
        sa.CheckConstraint(
            "type IN ('fit_out', 'commercial', 'residential', 'retail', 'hospitality', 'office', 'healthcare', 'industrial', 'mep', 'millwork', 'general_contractor', 'management')",
            name=op.f("ck_projects_type"),
        ),
        sa.CheckConstraint("budget IS NULL OR budget >= 0", name=op.f("ck_projects_budget")),
        sa.CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date",
            name=op.f("ck_projects_dates"),
        ),
        sa.CheckConstraint("length(name) BETWEEN 1 AND 300", name=op.f("ck_projects_name_length")),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name=op.f("ck_projects_progress")),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_projects_client_id_clients"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_projects_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_projects_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_manager_id"],
            ["users.id"],
            name=op.f("fk_projects_project_manager_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("org_id", "legacy_id", name=op.f("uq_projects_org_id_legacy_id")),
    )
    op.create_index(op.f("ix_projects_client_id"), "projects", ["client_id"], unique=False)
    op.create_index(op.f("ix_projects_created_by"), "projects", ["created_by"], unique=False)
    op.create_index(
        "ix_projects_name_trgm",
        "projects",
        [sa.literal_column("f_unaccent(name) gin_trgm_ops")],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(op.f("ix_projects_org_id"), "projects", ["org_id"], unique=False)
    op.create_index("ix_projects_org_id_status", "projects", ["org_id", "status"], unique=False)
    op.create_index(
        op.f("ix_projects_project_manager_id"), "projects", ["project_manager_id"], unique=False
    )
    op.create_index(
        "ix_projects_search", "projects", ["search_vector"], unique=False, postgresql_using="gin"
    )
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("refresh_hash", sa.Text(), nullable=False),
        sa.Column("previous_hash", sa.Text(), nullable=True),
        sa.Column("generation", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ip", postgresql.INET(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_user_sessions_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("refresh_hash", name=op.f("uq_user_sessions_refresh_hash")),
    )
    op.create_index(op.f("ix_user_sessions_org_id"), "user_sessions", ["org_id"], unique=False)
    op.create_index(
        op.f("ix_user_sessions_previous_hash"), "user_sessions", ["previous_hash"], unique=False
    )
    op.create_index(op.f("ix_user_sessions_user_id"), "user_sessions", ["user_id"], unique=False)
    op.create_table(
        "attachments",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("entity_type", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.UUID(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("mime_type", sa.Text(), nullable=True),
        sa.Column("size", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("storage_key", sa.Text(), nullable=False),
        sa.Column("uploaded_by", sa.UUID(), nullable=True),
        sa.CheckConstraint(
            "entity_type IN ('project', 'task', 'scope_item', 'shop_drawing', 'material_spec')",
            name=op.f("ck_attachments_entity_type"),
        ),
        sa.CheckConstraint("size >= 0", name=op.f("ck_attachments_size")),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_attachments_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_attachments_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"],
            ["users.id"],
            name=op.f("fk_attachments_uploaded_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    op.create_index(
        "ix_attachments_entity", "attachments", ["entity_type", "entity_id"], unique=False
    )
    op.create_index(op.f("ix_attachments_org_id"), "attachments", ["org_id"], unique=False)
    op.create_index(op.f("ix_attachments_project_id"), "attachments", ["project_id"], unique=False)
    op.create_index(
        op.f("ix_attachments_uploaded_by"), "attachments", ["uploaded_by"], unique=False
    )
    op.create_table(
        "comments",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("entity_type", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.UUID(), nullable=True),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed("setweight(to_tsvector('simple', f_unaccent(body)), 'C')", persisted=True),
            nullable=False,
        ),
        sa.CheckConstraint(
            "entity_type IN ('project', 'task', 'scope_item', 'shop_drawing', 'material_spec')",
            name=op.f("ck_comments_entity_type"),
        ),
        sa.CheckConstraint(
            "length(body) BETWEEN 1 AND 100000", name=op.f("ck_comments_body_length")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_comments_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["comments.id"],
            name=op.f("fk_comments_parent_id_comments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_comments_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_comments_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    op.create_index(
        "ix_comments_entity", "comments", ["entity_type", "entity_id", "created_at"], unique=False
    )
    op.create_index(op.f("ix_comments_org_id"), "comments", ["org_id"], unique=False)
    op.create_index(op.f("ix_comments_parent_id"), "comments", ["parent_id"], unique=False)
    op.create_index(op.f("ix_comments_project_id"), "comments", ["project_id"], unique=False)
    op.create_index(
        "ix_comments_search", "comments", ["search_vector"], unique=False, postgresql_using="gin"
    )
    op.create_index(op.f("ix_comments_user_id"), "comments", ["user_id"], unique=False)
    op.create_table(
        "material_specs",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("code", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("material", sa.Text(), nullable=True),
        sa.Column("finish", sa.Text(), nullable=True),
        sa.Column("manufacturer", sa.Text(), nullable=True),
        sa.Column("supplier_name", sa.Text(), nullable=True),
        sa.Column("supplier_contact", sa.Text(), nullable=True),
        sa.Column("supplier_phone", sa.Text(), nullable=True),
        sa.Column("supplier_email", sa.Text(), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=True),
        sa.Column("unit", sa.Text(), nullable=True),
        sa.Column("unit_cost", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("currency", sa.Text(), server_default="TRY", nullable=False),
        sa.Column("total_cost", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("lead_time_days", sa.Integer(), nullable=True),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("approved_by", sa.UUID(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column(
            "specification",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("legacy_id", sa.Text(), nullable=True),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                "setweight(to_tsvector('simple', f_unaccent(coalesce(code, ''))), 'A') || setweight(to_tsvector('simple', f_unaccent(coalesce(description, ''))), 'A') || setweight(to_tsvector('simple', f_unaccent(coalesce(material, ''))), 'B') || setweight(to_tsvector('simple', f_unaccent(coalesce(manufacturer, ''))), 'B') || setweight(to_tsvector('simple', f_unaccent(coalesce(supplier_name, ''))), 'B') || setweight(to_tsvector('simple', f_unaccent(coalesce(category, ''))), 'C') || setweight(to_tsvector('simple', f_unaccent(coalesce(finish, ''))), 'C')",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_material_specs_currency")),
        sa.CheckConstraint(
            "status IN ('pending', 'pending_approval', 'approved', 'revision_required', 'rejected', 'ordered', 'in_stock', 'delivered', 'used')",
            name=op.f("ck_material_specs_status"),
        ),
        sa.CheckConstraint(
            "lead_time_days IS NULL OR lead_time_days >= 0",
            name=op.f("ck_material_specs_lead_time"),
        ),
        sa.CheckConstraint(
            "length(description) BETWEEN 1 AND 100000",
            name=op.f("ck_material_specs_description_length"),
        ),
        sa.CheckConstraint(
            "quantity IS NULL OR quantity >= 0", name=op.f("ck_material_specs_quantity")
        ),
        sa.CheckConstraint(
            "total_cost IS NULL OR total_cost >= 0", name=op.f("ck_material_specs_total_cost")
        ),
        sa.CheckConstraint(
            "unit_cost IS NULL OR unit_cost >= 0", name=op.f("ck_material_specs_unit_cost")
        ),
        sa.ForeignKeyConstraint(
            ["approved_by"],
            ["users.id"],
            name=op.f("fk_material_specs_approved_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_material_specs_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_material_specs_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_material_specs_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_material_specs")),
        sa.UniqueConstraint("org_id", "legacy_id", name=op.f("uq_material_specs_org_id_legacy_id")),
    )
    op.create_index(
        op.f("ix_material_specs_approved_by"), "material_specs", ["approved_by"], unique=False
    )
    op.create_index(
        op.f("ix_material_specs_created_by"), "material_specs", ["created_by"], unique=False
    )
    op.create_index(op.f("ix_material_specs_org_id"), "material_specs", ["org_id"], unique=False)
    op.create_index(
        op.f("ix_material_specs_project_id"), "material_specs", ["project_id"], unique=False
    )
    op.create_index(
        "ix_material_specs_project_id_status",
        "material_specs",
        ["project_id", "status"],
        unique=False,
    )
    op.create_index(
        "ix_material_specs_search",
        "material_specs",
        ["search_vector"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_material_specs_trgm",
        "material_specs",
        [
            sa.literal_column(
                "f_unaccent(coalesce(code, '') || ' ' || description || ' ' || coalesce(supplier_name, '') || ' ' || coalesce(manufacturer, '')) gin_trgm_ops"
            )
        ],
        unique=False,
        postgresql_using="gin",
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("project_id", sa.UUID(), nullable=True),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_notifications_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_notifications_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(op.f("ix_notifications_org_id"), "notifications", ["org_id"], unique=False)
    op.create_index(
        op.f("ix_notifications_project_id"), "notifications", ["project_id"], unique=False
    )
    op.create_index(op.f("ix_notifications_user_id"), "notifications", ["user_id"], unique=False)
    op.create_index(
        "ix_notifications_user_id_created_at_id",
        "notifications",
        ["user_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_notifications_user_unread",
        "notifications",
        ["user_id", "created_at"],
        unique=False,
        postgresql_where=sa.text("read_at IS NULL"),
    )
    op.create_table(
        "project_members",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "role IN ('admin', 'project_manager', 'designer', 'coordinator', 'craftsman', 'client')",
            name=op.f("ck_project_members_role"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_project_members_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_members_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_project_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_members")),
        sa.UniqueConstraint(
            "project_id", "user_id", name=op.f("uq_project_members_project_id_user_id")
        ),
    )
    op.create_index(op.f("ix_project_members_org_id"), "project_members", ["org_id"], unique=False)
    op.create_index(
        op.f("ix_project_members_project_id"), "project_members", ["project_id"], unique=False
    )
    op.create_index(
        op.f("ix_project_members_user_id"), "project_members", ["user_id"], unique=False
    )
    op.create_table(
        "scope_groups",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("order_index", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint(
            "length(name) BETWEEN 1 AND 300", name=op.f("ck_scope_groups_name_length")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_scope_groups_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_scope_groups_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scope_groups")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_scope_groups_project_id_name")),
    )
    op.create_index(op.f("ix_scope_groups_org_id"), "scope_groups", ["org_id"], unique=False)
    op.create_index(
        op.f("ix_scope_groups_project_id"), "scope_groups", ["project_id"], unique=False
    )
    op.create_table(
        "shop_drawings",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("drawing_number", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("drawing_type", sa.Text(), nullable=True),
        sa.Column("room", sa.Text(), nullable=True),
        sa.Column("revision", sa.Text(), server_default="Rev A", nullable=False),
        sa.Column("status", sa.Text(), server_default="draft", nullable=False),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("submitted_by", sa.UUID(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.UUID(), nullable=True),
        sa.Column("approved_by", sa.UUID(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("mime_type", sa.Text(), nullable=True),
        sa.Column("storage_key", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("legacy_id", sa.Text(), nullable=True),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                "setweight(to_tsvector('simple', f_unaccent(coalesce(drawing_number, ''))), 'A') || setweight(to_tsvector('simple', f_unaccent(coalesce(title, ''))), 'A') || setweight(to_tsvector('simple', f_unaccent(coalesce(room, ''))), 'B') || setweight(to_tsvector('simple', f_unaccent(coalesce(drawing_type, ''))), 'C')",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "revision ~ '^Rev [A-Z]{1,2}$'", name=op.f("ck_shop_drawings_revision_label")
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted', 'in_review', 'approved', 'approved_as_noted', 'revise_and_resubmit', 'rejected', 'void')",
            name=op.f("ck_shop_drawings_status"),
        ),
        sa.CheckConstraint(
            "file_size IS NULL OR file_size >= 0", name=op.f("ck_shop_drawings_file_size")
        ),
        sa.CheckConstraint(
            "length(title) BETWEEN 1 AND 300", name=op.f("ck_shop_drawings_title_length")
        ),
        sa.ForeignKeyConstraint(
            ["approved_by"],
            ["users.id"],
            name=op.f("fk_shop_drawings_approved_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_shop_drawings_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_shop_drawings_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_shop_drawings_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"],
            ["users.id"],
            name=op.f("fk_shop_drawings_reviewed_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"],
            ["users.id"],
            name=op.f("fk_shop_drawings_submitted_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_drawings")),
        sa.UniqueConstraint("org_id", "legacy_id", name=op.f("uq_shop_drawings_org_id_legacy_id")),
        sa.UniqueConstraint(
            "project_id", "drawing_number", name=op.f("uq_shop_drawings_project_id_drawing_number")
        ),
    )
    op.create_index(
        op.f("ix_shop_drawings_approved_by"), "shop_drawings", ["approved_by"], unique=False
    )
    op.create_index(
        op.f("ix_shop_drawings_created_by"), "shop_drawings", ["created_by"], unique=False
    )
    op.create_index(
        "ix_shop_drawings_number_trgm",
        "shop_drawings",
        [sa.literal_column("f_unaccent(drawing_number || ' ' || title) gin_trgm_ops")],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(op.f("ix_shop_drawings_org_id"), "shop_drawings", ["org_id"], unique=False)
    op.create_index(
        op.f("ix_shop_drawings_project_id"), "shop_drawings", ["project_id"], unique=False
    )
    op.create_index(
        "ix_shop_drawings_project_id_status",
        "shop_drawings",
        ["project_id", "status"],
        unique=False,
    )
    op.create_index(
        op.f("ix_shop_drawings_reviewed_by"), "shop_drawings", ["reviewed_by"], unique=False
    )
    op.create_index(
        "ix_shop_drawings_search",
        "shop_drawings",
        ["search_vector"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        op.f("ix_shop_drawings_submitted_by"), "shop_drawings", ["submitted_by"], unique=False
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("priority", sa.Text(), server_default="medium", nullable=False),
        sa.Column("assigned_to", sa.UUID(), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("progress", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("estimated_hours", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column("actual_hours", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("tags", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("legacy_id", sa.Text(), nullable=True),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                "setweight(to_tsvector('simple', f_unaccent(coalesce(name, ''))), 'A') || setweight(to_tsvector('simple', f_unaccent(coalesce(category, ''))), 'B') || setweight(to_tsvector('simple', f_unaccent(coalesce(description, ''))), 'C')",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "priority IN ('low', 'medium', 'high', 'urgent')", name=op.f("ck_tasks_priority")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'in_progress', 'review', 'completed', 'cancelled')",
            name=op.f("ck_tasks_status"),
        ),
        sa.CheckConstraint(
            "actual_hours IS NULL OR actual_hours >= 0", name=op.f("ck_tasks_actual_hours")
        ),
        sa.CheckConstraint(
            "due_date IS NULL OR start_date IS NULL OR due_date >= start_date",
            name=op.f("ck_tasks_dates"),
        ),
        sa.CheckConstraint(
            "estimated_hours IS NULL OR estimated_hours >= 0", name=op.f("ck_tasks_estimated_hours")
        ),
        sa.CheckConstraint("length(name) BETWEEN 1 AND 300", name=op.f("ck_tasks_name_length")),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name=op.f("ck_tasks_progress")),
        sa.ForeignKeyConstraint(
            ["assigned_to"],
            ["users.id"],
            name=op.f("fk_tasks_assigned_to_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_tasks_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_tasks_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_tasks_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint("org_id", "legacy_id", name=op.f("uq_tasks_org_id_legacy_id")),
    )
    op.create_index(op.f("ix_tasks_assigned_to"), "tasks", ["assigned_to"], unique=False)
    op.create_index(op.f("ix_tasks_created_by"), "tasks", ["created_by"], unique=False)
    op.create_index(
        "ix_tasks_name_trgm",
        "tasks",
        [sa.literal_column("f_unaccent(name) gin_trgm_ops")],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(op.f("ix_tasks_org_id"), "tasks", ["org_id"], unique=False)
    op.create_index(op.f("ix_tasks_project_id"), "tasks", ["project_id"], unique=False)
    op.create_index(
        "ix_tasks_project_id_created_at_id",
        "tasks",
        ["project_id", "created_at", "id"],
        unique=False,
    )
    op.create_index("ix_tasks_project_id_status", "tasks", ["project_id", "status"], unique=False)
    op.create_index(
        "ix_tasks_search", "tasks", ["search_vector"], unique=False, postgresql_using="gin"
    )
    op.create_table(
        "mentions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("comment_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["comments.id"],
            name=op.f("fk_mentions_comment_id_comments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_mentions_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_mentions_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_mentions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mentions")),
        sa.UniqueConstraint("comment_id", "user_id", name=op.f("uq_mentions_comment_id_user_id")),
    )
    op.create_index(op.f("ix_mentions_comment_id"), "mentions", ["comment_id"], unique=False)
    op.create_index(op.f("ix_mentions_org_id"), "mentions", ["org_id"], unique=False)
    op.create_index(op.f("ix_mentions_project_id"), "mentions", ["project_id"], unique=False)
    op.create_index(op.f("ix_mentions_user_id"), "mentions", ["user_id"], unique=False)
    op.create_table(
        "scope_items",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("scope_group_id", sa.UUID(), nullable=False),
        sa.Column("code", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=True),
        sa.Column("unit", sa.Text(), nullable=True),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("total_price", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("completion", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("dependencies", postgresql.ARRAY(sa.UUID()), server_default="{}", nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("legacy_id", sa.Text(), nullable=True),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                "setweight(to_tsvector('simple', f_unaccent(coalesce(code, ''))), 'A') || setweight(to_tsvector('simple', f_unaccent(coalesce(name, ''))), 'A') || setweight(to_tsvector('simple', f_unaccent(coalesce(category, ''))), 'B') || setweight(to_tsvector('simple', f_unaccent(coalesce(description, ''))), 'C')",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'in_progress', 'on_hold', 'completed', 'cancelled')",
            name=op.f("ck_scope_items_status"),
        ),
        sa.CheckConstraint(
            "unit IS NULL OR unit IN ('pcs', 'sqm', 'sqft', 'lm', 'lft', 'm', 'ft', 'kg', 'lb', 'ton', 'hours', 'days', 'lot', 'set', 'l')",
            name=op.f("ck_scope_items_unit"),
        ),
        sa.CheckConstraint("completion BETWEEN 0 AND 100", name=op.f("ck_scope_items_completion")),
        sa.CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date",
            name=op.f("ck_scope_items_dates"),
        ),
        sa.CheckConstraint(
            "length(name) BETWEEN 1 AND 300", name=op.f("ck_scope_items_name_length")
        ),
        sa.CheckConstraint(
            "quantity IS NULL OR quantity >= 0", name=op.f("ck_scope_items_quantity")
        ),
        sa.CheckConstraint(
            "total_price IS NULL OR total_price >= 0", name=op.f("ck_scope_items_total_price")
        ),
        sa.CheckConstraint(
            "unit_price IS NULL OR unit_price >= 0", name=op.f("ck_scope_items_unit_price")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_scope_items_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_scope_items_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scope_group_id"],
            ["scope_groups.id"],
            name=op.f("fk_scope_items_scope_group_id_scope_groups"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scope_items")),
        sa.UniqueConstraint("org_id", "legacy_id", name=op.f("uq_scope_items_org_id_legacy_id")),
        sa.UniqueConstraint("project_id", "code", name=op.f("uq_scope_items_project_id_code")),
    )
    op.create_index(
        "ix_scope_items_code_trgm",
        "scope_items",
        [sa.literal_column("f_unaccent(coalesce(code, '') || ' ' || name) gin_trgm_ops")],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(op.f("ix_scope_items_org_id"), "scope_items", ["org_id"], unique=False)
    op.create_index(op.f("ix_scope_items_project_id"), "scope_items", ["project_id"], unique=False)
    op.create_index(
        "ix_scope_items_project_id_status", "scope_items", ["project_id", "status"], unique=False
    )
    op.create_index(
        op.f("ix_scope_items_scope_group_id"), "scope_items", ["scope_group_id"], unique=False
    )
    op.create_index(
        "ix_scope_items_search",
        "scope_items",
        ["search_vector"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_table(
        "shop_drawing_revisions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("drawing_id", sa.UUID(), nullable=False),
        sa.Column("revision", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("closed_by", sa.UUID(), nullable=True),
        sa.Column(
            "closed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted', 'in_review', 'approved', 'approved_as_noted', 'revise_and_resubmit', 'rejected', 'void')",
            name=op.f("ck_shop_drawing_revisions_status"),
        ),
        sa.ForeignKeyConstraint(
            ["closed_by"],
            ["users.id"],
            name=op.f("fk_shop_drawing_revisions_closed_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["drawing_id"],
            ["shop_drawings.id"],
            name=op.f("fk_shop_drawing_revisions_drawing_id_shop_drawings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_shop_drawing_revisions_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_shop_drawing_revisions_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_drawing_revisions")),
        sa.UniqueConstraint(
            "drawing_id", "revision", name=op.f("uq_shop_drawing_revisions_drawing_id_revision")
        ),
    )
    op.create_index(
        op.f("ix_shop_drawing_revisions_closed_by"),
        "shop_drawing_revisions",
        ["closed_by"],
        unique=False,
    )
    op.create_index(
        op.f("ix_shop_drawing_revisions_drawing_id"),
        "shop_drawing_revisions",
        ["drawing_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_shop_drawing_revisions_org_id"), "shop_drawing_revisions", ["org_id"], unique=False
    )
    op.create_index(
        op.f("ix_shop_drawing_revisions_project_id"),
        "shop_drawing_revisions",
        ["project_id"],
        unique=False,
    )
    op.create_table(
        "item_links",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("scope_item_id", sa.UUID(), nullable=False),
        sa.Column("task_id", sa.UUID(), nullable=True),
        sa.Column("shop_drawing_id", sa.UUID(), nullable=True),
        sa.Column("material_spec_id", sa.UUID(), nullable=True),
        sa.CheckConstraint(
            "num_nonnulls(task_id, shop_drawing_id, material_spec_id) = 1",
            name=op.f("ck_item_links_one_target"),
        ),
        sa.ForeignKeyConstraint(
            ["material_spec_id"],
            ["material_specs.id"],
            name=op.f("fk_item_links_material_spec_id_material_specs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_item_links_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_item_links_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scope_item_id"],
            ["scope_items.id"],
            name=op.f("fk_item_links_scope_item_id_scope_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_drawing_id"],
            ["shop_drawings.id"],
            name=op.f("fk_item_links_shop_drawing_id_shop_drawings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_item_links_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_links")),
    )
    op.create_index(
        op.f("ix_item_links_material_spec_id"), "item_links", ["material_spec_id"], unique=False
    )
    op.create_index(op.f("ix_item_links_org_id"), "item_links", ["org_id"], unique=False)
    op.create_index(op.f("ix_item_links_project_id"), "item_links", ["project_id"], unique=False)
    op.create_index(
        op.f("ix_item_links_scope_item_id"), "item_links", ["scope_item_id"], unique=False
    )
    op.create_index(
        op.f("ix_item_links_shop_drawing_id"), "item_links", ["shop_drawing_id"], unique=False
    )
    op.create_index(op.f("ix_item_links_task_id"), "item_links", ["task_id"], unique=False)
    op.create_index(
        "uq_item_links_target",
        "item_links",
        [
            "scope_item_id",
            sa.literal_column("coalesce(task_id, shop_drawing_id, material_spec_id)"),
        ],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_item_links_target", table_name="item_links")
    op.drop_index(op.f("ix_item_links_task_id"), table_name="item_links")
    op.drop_index(op.f("ix_item_links_shop_drawing_id"), table_name="item_links")
    op.drop_index(op.f("ix_item_links_scope_item_id"), table_name="item_links")
    op.drop_index(op.f("ix_item_links_project_id"), table_name="item_links")
    op.drop_index(op.f("ix_item_links_org_id"), table_name="item_links")
    op.drop_index(op.f("ix_item_links_material_spec_id"), table_name="item_links")
    op.drop_table("item_links")
    op.drop_index(op.f("ix_shop_drawing_revisions_project_id"), table_name="shop_drawing_revisions")
    op.drop_index(op.f("ix_shop_drawing_revisions_org_id"), table_name="shop_drawing_revisions")
    op.drop_index(op.f("ix_shop_drawing_revisions_drawing_id"), table_name="shop_drawing_revisions")
    op.drop_index(op.f("ix_shop_drawing_revisions_closed_by"), table_name="shop_drawing_revisions")
    op.drop_table("shop_drawing_revisions")
    op.drop_index("ix_scope_items_search", table_name="scope_items", postgresql_using="gin")
    op.drop_index(op.f("ix_scope_items_scope_group_id"), table_name="scope_items")
    op.drop_index("ix_scope_items_project_id_status", table_name="scope_items")
    op.drop_index(op.f("ix_scope_items_project_id"), table_name="scope_items")
    op.drop_index(op.f("ix_scope_items_org_id"), table_name="scope_items")
    op.drop_index("ix_scope_items_code_trgm", table_name="scope_items", postgresql_using="gin")
    op.drop_table("scope_items")
    op.drop_index(op.f("ix_mentions_user_id"), table_name="mentions")
    op.drop_index(op.f("ix_mentions_project_id"), table_name="mentions")
    op.drop_index(op.f("ix_mentions_org_id"), table_name="mentions")
    op.drop_index(op.f("ix_mentions_comment_id"), table_name="mentions")
    op.drop_table("mentions")
    op.drop_index("ix_tasks_search", table_name="tasks", postgresql_using="gin")
    op.drop_index("ix_tasks_project_id_status", table_name="tasks")
    op.drop_index("ix_tasks_project_id_created_at_id", table_name="tasks")
    op.drop_index(op.f("ix_tasks_project_id"), table_name="tasks")
    op.drop_index(op.f("ix_tasks_org_id"), table_name="tasks")
    op.drop_index("ix_tasks_name_trgm", table_name="tasks", postgresql_using="gin")
    op.drop_index(op.f("ix_tasks_created_by"), table_name="tasks")
    op.drop_index(op.f("ix_tasks_assigned_to"), table_name="tasks")
    op.drop_table("tasks")
    op.drop_index(op.f("ix_shop_drawings_submitted_by"), table_name="shop_drawings")
    op.drop_index("ix_shop_drawings_search", table_name="shop_drawings", postgresql_using="gin")
    op.drop_index(op.f("ix_shop_drawings_reviewed_by"), table_name="shop_drawings")
    op.drop_index("ix_shop_drawings_project_id_status", table_name="shop_drawings")
    op.drop_index(op.f("ix_shop_drawings_project_id"), table_name="shop_drawings")
    op.drop_index(op.f("ix_shop_drawings_org_id"), table_name="shop_drawings")
    op.drop_index(
        "ix_shop_drawings_number_trgm", table_name="shop_drawings", postgresql_using="gin"
    )
    op.drop_index(op.f("ix_shop_drawings_created_by"), table_name="shop_drawings")
    op.drop_index(op.f("ix_shop_drawings_approved_by"), table_name="shop_drawings")
    op.drop_table("shop_drawings")
    op.drop_index(op.f("ix_scope_groups_project_id"), table_name="scope_groups")
    op.drop_index(op.f("ix_scope_groups_org_id"), table_name="scope_groups")
    op.drop_table("scope_groups")
    op.drop_index(op.f("ix_project_members_user_id"), table_name="project_members")
    op.drop_index(op.f("ix_project_members_project_id"), table_name="project_members")
    op.drop_index(op.f("ix_project_members_org_id"), table_name="project_members")
    op.drop_table("project_members")
    op.drop_index(
        "ix_notifications_user_unread",
        table_name="notifications",
        postgresql_where=sa.text("read_at IS NULL"),
    )
    op.drop_index("ix_notifications_user_id_created_at_id", table_name="notifications")
    op.drop_index(op.f("ix_notifications_user_id"), table_name="notifications")
    op.drop_index(op.f("ix_notifications_project_id"), table_name="notifications")
    op.drop_index(op.f("ix_notifications_org_id"), table_name="notifications")
    op.drop_table("notifications")
    op.drop_index("ix_material_specs_trgm", table_name="material_specs", postgresql_using="gin")
    op.drop_index("ix_material_specs_search", table_name="material_specs", postgresql_using="gin")
    op.drop_index("ix_material_specs_project_id_status", table_name="material_specs")
    op.drop_index(op.f("ix_material_specs_project_id"), table_name="material_specs")
    op.drop_index(op.f("ix_material_specs_org_id"), table_name="material_specs")
    op.drop_index(op.f("ix_material_specs_created_by"), table_name="material_specs")
    op.drop_index(op.f("ix_material_specs_approved_by"), table_name="material_specs")
    op.drop_table("material_specs")
    op.drop_index(op.f("ix_comments_user_id"), table_name="comments")
    op.drop_index("ix_comments_search", table_name="comments", postgresql_using="gin")
    op.drop_index(op.f("ix_comments_project_id"), table_name="comments")
    op.drop_index(op.f("ix_comments_parent_id"), table_name="comments")
    op.drop_index(op.f("ix_comments_org_id"), table_name="comments")
    op.drop_index("ix_comments_entity", table_name="comments")
    op.drop_table("comments")
    op.drop_index(op.f("ix_attachments_uploaded_by"), table_name="attachments")
    op.drop_index(op.f("ix_attachments_project_id"), table_name="attachments")
    op.drop_index(op.f("ix_attachments_org_id"), table_name="attachments")
    op.drop_index("ix_attachments_entity", table_name="attachments")
    op.drop_table("attachments")
    op.drop_index(op.f("ix_user_sessions_user_id"), table_name="user_sessions")
    op.drop_index(op.f("ix_user_sessions_previous_hash"), table_name="user_sessions")
    op.drop_index(op.f("ix_user_sessions_org_id"), table_name="user_sessions")
    op.drop_table("user_sessions")
    op.drop_index("ix_projects_search", table_name="projects", postgresql_using="gin")
    op.drop_index(op.f("ix_projects_project_manager_id"), table_name="projects")
    op.drop_index("ix_projects_org_id_status", table_name="projects")
    op.drop_index(op.f("ix_projects_org_id"), table_name="projects")
    op.drop_index("ix_projects_name_trgm", table_name="projects", postgresql_using="gin")
    op.drop_index(op.f("ix_projects_created_by"), table_name="projects")
    op.drop_index(op.f("ix_projects_client_id"), table_name="projects")
    op.drop_table("projects")
    op.drop_index(op.f("ix_password_tokens_user_id"), table_name="password_tokens")
    op.drop_table("password_tokens")
    op.drop_index(op.f("ix_idempotency_keys_expires_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index("uq_users_email_lower", table_name="users")
    op.drop_index("ix_users_org_id_role", table_name="users")
    op.drop_index(op.f("ix_users_org_id"), table_name="users")
    op.drop_index(op.f("ix_users_client_id"), table_name="users")
    op.drop_table("users")
    op.drop_index("ix_clients_search", table_name="clients", postgresql_using="gin")
    op.drop_index("ix_clients_org_id_name", table_name="clients")
    op.drop_index(op.f("ix_clients_org_id"), table_name="clients")
    op.drop_index("ix_clients_name_trgm", table_name="clients", postgresql_using="gin")
    op.drop_table("clients")
    op.drop_table("realtime_state")
    op.drop_table("realtime_cursor")
    op.drop_table("organizations")
    op.drop_index("ix_audit_logs_user_id_at", table_name="audit_logs")
    op.drop_index("ix_audit_logs_txid_id", table_name="audit_logs")
    op.drop_index("ix_audit_logs_record", table_name="audit_logs")
    op.drop_index("ix_audit_logs_project_id_id", table_name="audit_logs")
    op.drop_index("ix_audit_logs_org_id_at", table_name="audit_logs")
    op.drop_index(op.f("ix_audit_logs_org_id"), table_name="audit_logs")
    op.drop_table("audit_logs")
    op.execute("DROP FUNCTION IF EXISTS f_unaccent(text)")
