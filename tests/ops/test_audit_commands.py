"""`formula-pm audit verify` (exit 0 intact, 1 broken, the first broken link printed) and
`formula-pm audit export` (OCSF lines on stdout, resumable, audited)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from db.admin_sql import act_as_system
from db.pool import transaction
from realtime.feed.chain import Chainer
from tests.conftest import World, actor_of
from tests.ops.conftest import run_cli
from tests.waiting import eventually


async def _rows(world: World, pool: asyncpg.Pool, count: int) -> dict[str, Any]:
    org = await world.org("chained")
    admin = await world.user(org, "admin")
    project = await world.project(org)
    async with transaction(pool, actor_of(admin)) as conn:
        for n in range(count):
            await conn.execute("INSERT INTO tasks (org_id, project_id, name) VALUES ($1, $2, $3)",
                               org, project, f"row {n}")
    return admin


async def chain_all(database_url: str, pool: asyncpg.Pool, heads: Path | None = None) -> None:
    """What the leader does, on a connection of our own."""
    conn = await asyncpg.connect(database_url)
    try:
        await act_as_system(conn)
        chainer = Chainer(batch=7, heads_dir=heads, head_every=0.0)

        async def done() -> bool:
            await chainer.extend(conn)
            await chainer.publish_heads(conn)
            return bool(await pool.fetchval(
                "SELECT (SELECT count(*) FROM audit_logs) = "
                "(SELECT count(*) FROM audit_chain_links)"))

        await eventually(done, limit=10, interval=0.05)
    finally:
        await conn.close()


async def test_verify_exits_0_when_intact_and_1_at_the_first_broken_link(
        cli_env: str, world: World, pool: asyncpg.Pool, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    await _rows(world, pool, 20)
    heads = tmp_path / "data" / "audit-heads"
    await chain_all(cli_env, pool, heads)
    assert list(heads.glob("*.jsonl"))
    assert await run_cli(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "audit chain intact" in out and "intact chained" in out
    assert await run_cli(["audit", "verify", "--org", "chained"]) == 0
    capsys.readouterr()
    target = await pool.fetchval("SELECT id FROM audit_logs WHERE new_values->>'name' = 'row 7'")
    await pool.execute("UPDATE audit_logs SET ip = '10.9.9.9' WHERE id = $1", target)
    assert await run_cli(["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert "BROKEN chained: chain " in out and f"(audit row {target})" in out
    # From a later row on, the earlier break is not looked at.
    later = await pool.fetchval("SELECT id FROM audit_logs WHERE new_values->>'name' = 'row 9'")
    assert await run_cli(["audit", "verify", "--from", str(later)]) == 0
    assert await run_cli(["audit", "verify", "--org", "no-such-org"]) == 2
    # Each run is audited, and counted for Prometheus when asked.
    metrics = tmp_path / "audit.prom"
    assert await run_cli(["audit", "verify", "--metrics-file", str(metrics)]) == 1
    assert await run_cli(["audit", "verify", "--metrics-file", str(metrics), "--from",
                          str(later)]) == 0
    text = metrics.read_text()
    assert 'fpm_audit_chain_verify_total{result="broken"} 1' in text
    assert 'fpm_audit_chain_verify_total{result="intact"} 1' in text
    assert "fpm_audit_chain_intact 1" in text
    results = await pool.fetch("SELECT details->>'result' AS r FROM audit_logs "
                               "WHERE action = 'audit_chain_verified' ORDER BY id")
    assert [r["r"] for r in results] == ["intact", "intact", "broken", "intact", "broken",
                                         "intact"]


async def test_export_writes_ocsf_lines_and_resumes_after_a_cursor(
        cli_env: str, world: World, pool: asyncpg.Pool,
        capsys: pytest.CaptureFixture[str]) -> None:
    await _rows(world, pool, 5)
    await eventually(lambda: _below_horizon(pool), limit=5, interval=0.05)
    assert await run_cli(["audit", "export", "--limit", "3"]) == 0
    first = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(first) == 3
    assert await run_cli(["audit", "export", "--after", first[-1]["unmapped"]["cursor"]]) == 0
    rest = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    ids = [e["metadata"]["uid"] for e in first + rest]
    assert len(ids) == len(set(ids))
    tasks = [e for e in first + rest if (e.get("resources") or [{}])[0].get("type") == "tasks"]
    assert len(tasks) == 5
    assert await pool.fetchval(
        "SELECT count(*) FROM audit_logs WHERE action = 'audit_exported'") == 2


async def _below_horizon(pool: asyncpg.Pool) -> bool:
    return bool(await pool.fetchval(
        "SELECT max(txid) < pg_snapshot_xmin(pg_current_snapshot()) FROM audit_logs"))


async def test_the_chain_verifies_on_a_restored_copy_against_heads_from_before(
        cli_env: str, world: World, pool: asyncpg.Pool, tmp_path: Path,
        new_database: Any, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    await _rows(world, pool, 12)
    heads = tmp_path / "offline-heads"  # the copy kept outside the database and backups
    await chain_all(cli_env, pool, heads)
    assert await run_cli(["backup", "--to", str(tmp_path / "b")]) == 0
    dump = Path(capsys.readouterr().out.strip().splitlines()[-1])
    target = await new_database(create=False)
    assert await run_cli(["restore", str(dump), "--to", target]) == 0
    monkeypatch.setenv("DATABASE_URL", target)
    capsys.readouterr()
    assert await run_cli(["audit", "verify", "--heads", str(heads)]) == 0
    assert "audit chain intact" in capsys.readouterr().out
    # A restored copy whose history was changed disagrees with the heads kept elsewhere.
    conn = await asyncpg.connect(target)
    try:
        await conn.execute("DELETE FROM audit_logs WHERE id = (SELECT max(audit_id) FROM "
                           "audit_chain_links WHERE chain <> 'service')")
    finally:
        await conn.close()
    assert await run_cli(["audit", "verify", "--heads", str(heads)]) == 1
