"""`formula-pm users erase`: a person's data leaves the user row and the audit log, and the
audit chain still verifies."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from db.pool import Actor, transaction
from db.queries.events import record_event
from tests.conftest import World
from tests.ops.conftest import run_cli
from tests.ops.test_audit_commands import chain_all

NAME, EMAIL, ADDRESS, AGENT = "Yılmazoğlu", "ayse.erasable@example.test", "198.51.100.77", \
    "ErasableBrowser/9"


async def _traces(pool: asyncpg.Pool) -> int:
    found: int = await pool.fetchval(
        "SELECT count(*) FROM audit_logs a WHERE a::text ILIKE ANY ($1::text[])",
        [f"%{NAME}%", f"%{EMAIL}%", f"%{ADDRESS}%", f"%{AGENT}%"])
    return found


async def test_erasure_removes_the_person_and_verify_still_passes(
        cli_env: str, world: World, pool: asyncpg.Pool, tmp_path: Path) -> None:
    org = await world.org("erasure")
    await world.user(org, "admin")
    person = await world.user(org, "designer", email=EMAIL, first_name="Ayşe", last_name=NAME)
    project = await world.project(org, members=[person])
    them = Actor(person["id"], org, "designer", request_id="req-erase", ip=ADDRESS,
                 user_agent=AGENT)
    async with transaction(pool, them) as conn:
        await conn.execute("INSERT INTO tasks (org_id, project_id, name) VALUES ($1, $2, $3)",
                           org, project, "their task")
        await conn.execute("UPDATE users SET phone = '+90 555 000 00 00' WHERE id = $1",
                           person["id"])
        await record_event(conn, "login", {"session_id": "s"}, org_id=org,
                           user_id=person["id"])
    heads = tmp_path / "data" / "audit-heads"
    await chain_all(cli_env, pool, heads)
    assert await _traces(pool) > 0
    assert await run_cli(["audit", "verify"]) == 0
    assert await run_cli(["users", "erase", "--org", "erasure", "--email", EMAIL]) == 2
    assert await run_cli(["users", "erase", "--org", "erasure", "--email", EMAIL,
                          "--yes"]) == 0
    assert await _traces(pool) == 0
    row = await pool.fetchrow("SELECT * FROM users WHERE id = $1", person["id"])
    assert row["last_name"] == "User" and row["status"] == "inactive" and row["phone"] is None
    assert await pool.fetchval("SELECT count(*) FROM audit_erasures") > 0
    assert await pool.fetchval(
        "SELECT count(*) FROM audit_logs WHERE action = 'person_erased'") == 1
    # Their task is still theirs (by pseudonymous id) and the chain still holds ...
    assert await pool.fetchval(
        "SELECT count(*) FROM audit_logs WHERE table_name = 'tasks' AND user_id = $1",
        person["id"]) == 1
    await chain_all(cli_env, pool, heads)
    assert await run_cli(["audit", "verify"]) == 0
    # ... while a change that is no erasure is still found.
    await pool.execute("UPDATE audit_logs SET new_values = '{\"name\": \"forged\"}' "
                       "WHERE table_name = 'tasks'")
    assert await run_cli(["audit", "verify"]) == 1


@pytest.mark.parametrize("field", ["new_values", "ip"])
async def test_an_erasure_marker_without_a_kept_digest_is_a_break(
        cli_env: str, world: World, pool: asyncpg.Pool, field: str) -> None:
    org = await world.org("forged")
    user = await world.user(org, "designer")
    async with transaction(pool, Actor(user["id"], org, ip=ADDRESS)) as conn:
        await conn.execute("UPDATE users SET phone = '1' WHERE id = $1", user["id"])
    await chain_all(cli_env, pool)
    forge = {"new_values": "UPDATE audit_logs SET new_values = '{\"erased\": true}' "
                           "WHERE user_id = $1",
             "ip": "UPDATE audit_logs SET ip = NULL WHERE user_id = $1"}
    await pool.execute(forge[field], user["id"])
    assert await run_cli(["audit", "verify"]) == 1
