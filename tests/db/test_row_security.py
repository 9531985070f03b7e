"""Row-level security as `formula_pm_app`: tenants, project visibility, the append-only log."""

from __future__ import annotations

import asyncpg
import pytest

from db.pool import Actor, transaction
from db.tables import PROJECT_TABLES
from tests.conftest import World, actor_of


async def _task(pool: asyncpg.Pool, org: object, project: object) -> object:
    async with pool.acquire() as conn:
        return await conn.fetchval(
            "INSERT INTO tasks (org_id, project_id, name) VALUES ($1, $2, 'Hidden') "
            "RETURNING id", org, project)


async def test_another_org_cannot_see_update_or_delete(pool: asyncpg.Pool, world: World) -> None:
    org_a, org_b = await world.org(), await world.org()
    admin_b = await world.user(org_b, "admin")
    project = await world.project(org_a)
    task = await _task(pool, org_a, project)
    async with transaction(pool, actor_of(admin_b)) as conn:
        assert await conn.fetchval("SELECT count(*) FROM projects") == 0
        assert await conn.fetchrow("SELECT * FROM tasks WHERE id = $1", task) is None
        assert await conn.execute("UPDATE tasks SET name = 'x' WHERE id = $1", task) == "UPDATE 0"
        assert await conn.execute("DELETE FROM projects WHERE id = $1", project) == "DELETE 0"
        assert await conn.fetchval("SELECT count(*) FROM users WHERE org_id = $1", org_a) == 0
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT name FROM tasks WHERE id = $1", task) == "Hidden"


async def test_writing_into_another_org_is_refused(pool: asyncpg.Pool, world: World) -> None:
    org_a, org_b = await world.org(), await world.org()
    admin_b = await world.user(org_b, "admin")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with transaction(pool, actor_of(admin_b)) as conn:
            await conn.execute("INSERT INTO clients (org_id, name) VALUES ($1, 'Sneaky')", org_a)


async def test_non_member_sees_no_project_rows_even_by_id(pool: asyncpg.Pool,
                                                          world: World) -> None:
    org = await world.org()
    member = await world.user(org, "designer")
    outsider = await world.user(org, "designer")
    admin = await world.user(org, "admin")
    project = await world.project(org, members=[member])
    task = await _task(pool, org, project)
    async with transaction(pool, actor_of(outsider)) as conn:
        assert await conn.fetchrow("SELECT * FROM tasks WHERE id = $1", task) is None
        assert await conn.fetchrow("SELECT * FROM projects WHERE id = $1", project) is None
        for table in PROJECT_TABLES:
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table  # noqa: S608
        assert await conn.fetchval("SELECT app_can_see_project($1)", project) is False
    for who in (member, admin):
        async with transaction(pool, actor_of(who)) as conn:
            assert await conn.fetchval("SELECT name FROM tasks WHERE id = $1", task) == "Hidden"
            assert await conn.fetchval("SELECT app_can_see_project($1)", project) is True


async def test_client_user_sees_only_its_client_and_its_projects(
    pool: asyncpg.Pool, world: World,
) -> None:
    org = await world.org()
    mine, other = await world.client_record(org, "Mine"), await world.client_record(org, "Other")
    client_user = await world.user(org, "client", client_id=mine)
    own_project = await world.project(org, client_id=mine, name="Ours")
    await world.project(org, client_id=other, name="Theirs")
    async with transaction(pool, actor_of(client_user)) as conn:
        assert [r["name"] for r in await conn.fetch("SELECT name FROM clients")] == ["Mine"]
        assert [r["id"] for r in await conn.fetch("SELECT id FROM projects")] == [own_project]


async def test_a_transaction_without_actor_sees_nothing(pool: asyncpg.Pool, world: World) -> None:
    org = await world.org()
    await world.user(org, "admin")
    await world.project(org)
    async with transaction(pool, Actor(None, None)) as conn:
        for table in ("organizations", "users", "projects", "clients", "audit_logs"):
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table  # noqa: S608


async def test_the_audit_log_is_append_only_for_the_application(
    pool: asyncpg.Pool, world: World,
) -> None:
    org = await world.org()
    admin = await world.user(org, "admin")
    for sql in ("UPDATE audit_logs SET action = 'forged'", "DELETE FROM audit_logs",
                "INSERT INTO audit_logs (action) VALUES ('forged')",
                "TRUNCATE audit_logs"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with transaction(pool, actor_of(admin)) as conn:
                await conn.execute(sql)
    with pytest.raises(asyncpg.RaiseError):
        async with transaction(pool, actor_of(admin)) as conn:
            await conn.execute("SELECT fpm_record_event('update', $1, $2)", org, admin["id"])
    async with transaction(pool, actor_of(admin)) as conn:
        assert await conn.fetchval("SELECT count(*) FROM audit_logs") >= 2
