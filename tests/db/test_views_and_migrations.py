"""Views without join fan-out, and migrations that go down and up on a populated database."""

from __future__ import annotations

import ast
import asyncio
import secrets
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from cli.embedded import with_database
from cli.seed import seed_demo
from db.migrate import downgrade, upgrade
from db.pool import create_pool, system_transaction, transaction
from db.schema import include_name, metadata
from tests.conftest import World, actor_of

VERSIONS = Path(__file__).parents[2] / "db" / "migrations" / "versions"


async def test_project_summary_sums_without_fan_out(pool: asyncpg.Pool, world: World) -> None:
    org = await world.org()
    pm, designer = await world.user(org, "project_manager"), await world.user(org, "designer")
    project = await world.project(org, members=[pm, designer])
    async with system_transaction(pool) as conn:
        await conn.execute("UPDATE projects SET budget = 100000 WHERE id = $1", project)
        for status in ("pending", "pending", "completed"):
            await conn.execute("INSERT INTO tasks (org_id, project_id, name, status) "
                               "VALUES ($1, $2, 't', $3)", org, project, status)
        group = await conn.fetchval("INSERT INTO scope_groups (org_id, project_id, name) "
                                    "VALUES ($1, $2, 'millwork') RETURNING id", org, project)
        for completion, total in ((20, "1000.00"), (60, "3000.50")):
            await conn.execute(
                "INSERT INTO scope_items (org_id, project_id, scope_group_id, name, completion,"
                " total_price) VALUES ($1, $2, $3, 'i', $4, $5::numeric)",
                org, project, group, completion, total)
        for status, cost in (("approved", "2500.00"), ("ordered", "500.25"),
                             ("pending", "9999.00")):
            await conn.execute(
                "INSERT INTO material_specs (org_id, project_id, description, status, total_cost)"
                " VALUES ($1, $2, 'd', $3, $4::numeric)", org, project, status, cost)
        for number, status in (("A-1", "draft"), ("A-2", "approved"), ("A-3", "submitted")):
            await conn.execute(
                "INSERT INTO shop_drawings (org_id, project_id, drawing_number, title, status) "
                "VALUES ($1, $2, $3, 't', $4)", org, project, number, status)
    async with transaction(pool, actor_of(pm)) as conn:
        row = await conn.fetchrow("SELECT * FROM project_summary WHERE project_id = $1", project)
    assert row["tasks_total"] == 3 and row["tasks_by_status"] == {"pending": 2, "completed": 1}
    assert row["scope_items_total"] == 2 and row["scope_completion"] == Decimal("40.0")
    assert row["scope_value"] == Decimal("4000.50")
    assert row["committed_material_cost"] == Decimal("3000.25")
    assert row["budget_remaining"] == Decimal("96999.75")
    assert row["drawings_by_status"] == {"draft": 1, "approved": 1, "submitted": 1}
    assert row["drawings_awaiting_action"] == 2 and row["team_size"] == 2
    outsider = await world.user(org, "craftsman")
    async with transaction(pool, actor_of(outsider)) as conn:
        assert await conn.fetchval("SELECT count(*) FROM project_summary") == 0


async def test_performance_stats_for_the_system_role(pool: asyncpg.Pool) -> None:
    async with system_transaction(pool) as conn:
        kinds = {r["kind"] for r in await conn.fetch("SELECT kind FROM performance_stats")}
    assert {"table", "cache_hit_ratio"} <= kinds


async def test_downgrade_base_then_upgrade_on_a_populated_database(admin_dsn: str) -> None:
    name = f"fpm_migrate_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(admin_dsn, name)
    try:
        await asyncio.to_thread(upgrade, url)
        pool = await create_pool(url, min_size=1, max_size=2)
        try:
            result = await seed_demo(pool, projects=1, password="Demo parolası 1")
            assert result["created"]
        finally:
            await pool.close()
        await asyncio.to_thread(downgrade, url, "base")
        check = await asyncpg.connect(url)
        try:  # nothing of ours is left granted on the schema
            acl = await check.fetchval(
                "SELECT nspacl::text FROM pg_namespace WHERE nspname = 'public'")
            assert "formula_pm" not in acl
        finally:
            await check.close()
        await asyncio.to_thread(upgrade, url)
        check = await asyncpg.connect(url)
        try:
            assert await check.fetchval("SELECT count(*) FROM projects") == 0
            assert await check.fetchval("SELECT count(*) FROM pg_policies") > 10
        finally:
            await check.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


# Trigram indexes are expressions with an operator class; Alembic cannot compare those and
# says so (they are created by the same migration text either way).
@pytest.mark.filterwarnings("ignore:Expression #1")
def test_migrations_match_the_schema_module(database_url: str) -> None:
    """What the migrations built is what db/schema.py describes (autogenerate finds nothing)."""
    from sqlalchemy.ext.asyncio import create_async_engine

    async def diff() -> list[object]:
        engine = create_async_engine(database_url.replace("postgresql://",
                                                          "postgresql+asyncpg://", 1))
        async with engine.connect() as conn:
            found = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(
                    sync, opts={"include_name": include_name}), metadata))
        await engine.dispose()
        return list(found)

    assert asyncio.run(diff()) == []


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def test_migrations_import_nothing_from_live_code() -> None:
    """A migration must do tomorrow what it did when it was written: a table list or type
    taken from db/schema.py would change an old revision (or break a fresh upgrade)."""
    allowed = {"alembic", "collections", "importlib", "re", "sqlalchemy", "typing"}
    found = {path.name: sorted(m for m in _imported_modules(path)
                               if m.split(".")[0] not in allowed)
             for path in sorted(VERSIONS.glob("[0-9]*.py"))}
    assert len(found) >= 10
    assert {name: modules for name, modules in found.items() if modules} == {}
