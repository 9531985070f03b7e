"""`formula-pm db stats` and `performance_stats` with pg_stat_statements created but not
preloaded (a hint, not an error); `formula-pm audit list` for the operator."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest

from db.migrate import revisions
from tests.conftest import World
from tests.ops.conftest import NewDatabase, run_cli


async def test_statistics_survive_pg_stat_statements_created_but_not_loaded(
    new_database: NewDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = await new_database()
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    conn = await asyncpg.connect(url)
    try:
        # Created before the migrations: the view of revision 0002 then read it directly
        # and failed on every server that does not preload it.
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        assert await run_cli(["migrate"]) == 0
        preloaded = "pg_stat_statements" in await conn.fetchval(
            "SHOW shared_preload_libraries")
        applied = [r["revision"] for r in await conn.fetch(
            "SELECT details->>'revision' AS revision FROM audit_logs "
            "WHERE action = 'migration_applied' ORDER BY id")]
        async with conn.transaction():
            await conn.execute("SET LOCAL ROLE formula_pm_system")
            kinds = {r["kind"]: r["name"] for r in
                     await conn.fetch("SELECT kind, name FROM performance_stats")}
    finally:
        await conn.close()
    # Each step once (those before 0017 only where the system role may write the log).
    chain = revisions()
    assert applied == chain[len(chain) - len(applied):]
    assert applied[-3:] == chain[-3:] and len(applied) == len(set(applied))
    assert {"table", "index", "cache_hit_ratio"} <= set(kinds)
    if not preloaded:
        assert kinds["note"] == "pg_stat_statements not loaded"
    capsys.readouterr()
    assert await run_cli(["db", "stats"]) == 0
    out = capsys.readouterr().out
    assert "cache hit ratio" in out and "connections:" in out and "unused" in out
    if not preloaded:
        assert "pg_stat_statements is not loaded: add it to shared_preload_libraries" in out
    assert await run_cli(["db", "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert {t["table"] for t in stats["tables"]} >= {"projects", "audit_logs"}
    assert stats["leader"] is not None and "connections" in stats


async def test_audit_list_shows_every_organisation_and_the_service(
    cli_env: str, world: World, pool: asyncpg.Pool, capsys: pytest.CaptureFixture[str],
) -> None:
    await world.org("audit-one")
    await world.org("audit-two")
    async with pool.acquire() as conn:
        await conn.execute("SELECT fpm_record_event('startup', NULL, NULL, "
                           "'{\"worker\": \"w9\"}'::jsonb)")
    assert await run_cli(["audit", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["org"] for r in rows} >= {"audit-one", "audit-two", None}
    assert await run_cli(["audit", "list", "--system", "--action", "startup",
                          "--since", "1h"]) == 0
    out = capsys.readouterr().out
    assert "startup" in out and "(service)" in out and "audit-one" not in out
    with pytest.raises(SystemExit) as bad:  # argparse: usage and exit 2
        await run_cli(["audit", "list", "--since", "yesterday-ish"])
    assert bad.value.code == 2 and "not a time" in capsys.readouterr().err
