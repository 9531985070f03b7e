"""The table taxonomy (db/tables.py) against the schema and the migrated database: a new
table cannot be forgotten, and no declared kind can drift from the triggers and policies."""

from __future__ import annotations

import re

import asyncpg

from db.schema import metadata
from db.tables import (
    AUDITED_TABLES,
    CACHED_TABLES,
    INTERNAL_TABLES,
    ORG_TABLES,
    PROJECT_TABLES,
    RESOURCES,
    SEARCHABLE_TABLES,
    TABLES,
    USER_TABLES,
    VISIBILITY_TABLES,
)


def test_every_table_of_the_schema_is_declared_once() -> None:
    assert set(TABLES) == set(metadata.tables)
    kinds = (ORG_TABLES, PROJECT_TABLES, USER_TABLES, INTERNAL_TABLES)
    assert sum(len(k) for k in kinds) == len(TABLES)
    assert set(AUDITED_TABLES) == set(TABLES) - INTERNAL_TABLES == set(RESOURCES)
    assert len(set(RESOURCES.values())) == len(RESOURCES)
    assert CACHED_TABLES <= ORG_TABLES | PROJECT_TABLES


def test_kinds_agree_with_the_columns() -> None:
    for name in ORG_TABLES:
        columns = metadata.tables[name].columns
        assert "project_id" not in columns, name
        assert name == "organizations" or not columns["org_id"].nullable, name
    for name in PROJECT_TABLES - {"projects"}:
        column = metadata.tables[name].columns["project_id"]
        assert not column.nullable, name
        assert {fk.column.table.name for fk in column.foreign_keys} == {"projects"}, name
    for name in USER_TABLES:
        assert not metadata.tables[name].columns["user_id"].nullable, name


def test_searchable_tables_are_those_with_a_search_vector() -> None:
    assert SEARCHABLE_TABLES == {name for name, table in metadata.tables.items()
                                 if "search_vector" in table.columns}


async def test_audited_tables_have_the_triggers_and_forced_row_security(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT c.relname, c.relforcerowsecurity,
                      EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid
                              AND t.tgname = 'fpm_audit') AS audited
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
                 AND c.relname = ANY ($1)""",
            list(TABLES))
    assert len(rows) == len(TABLES)
    assert {r["relname"] for r in rows if r["audited"]} == set(AUDITED_TABLES)
    assert {r["relname"] for r in rows if r["relforcerowsecurity"]} >= set(AUDITED_TABLES)


async def test_policies_read_as_the_kinds_say(pool: asyncpg.Pool) -> None:
    """Project tables: by project visibility; org-wide: by organisation, never by project;
    a user's own: by its owner (and a notification of a project also by the project's
    visibility)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT tablename, qual FROM pg_policies WHERE 'formula_pm_app' = ANY (roles) "
            "AND cmd IN ('ALL', 'SELECT') AND tablename = ANY ($1)", list(AUDITED_TABLES))
    quals: dict[str, list[str]] = {}
    for row in rows:
        quals.setdefault(row["tablename"], []).append(row["qual"])
    assert set(quals) == set(AUDITED_TABLES)
    for name, texts in quals.items():
        by_project = ["app_visible_project_ids()" in q for q in texts]
        if name in PROJECT_TABLES:
            assert all(by_project), name
        elif name in ORG_TABLES:
            assert not any(by_project), name
        if name in USER_TABLES:
            assert all("user_id = app_user_id()" in q for q in texts), name
        else:
            assert all("app_org_id()" in q for q in texts), name


async def test_visibility_tables_are_those_the_policy_functions_read(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        sources = await conn.fetch(
            "SELECT proname, prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'public' AND p.proname LIKE 'app\\_%'")
    assert {"app_is_org_admin", "app_visible_project_ids"} <= {r["proname"] for r in sources}
    read = {m for r in sources for m in re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", r["prosrc"],
                                                  flags=re.IGNORECASE)}
    assert read & set(TABLES) == VISIBILITY_TABLES
