"""`audit verify` checks links in the database: its canonical form (db/queries/audit_chain.py)
must be rules.audit_chain's byte for byte on any value a row can hold, and ranges of a chain
checked on several connections at once must report the break one walk would."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from cli import audit_verify
from cli.audit_verify import Report, verify
from cli.ops import _jobs
from tests.conftest import World
from tests.ops.test_audit_commands import chain_all

# Strings PostgreSQL and Python's json must escape alike: every control character (the
# short escapes and the \u00XX ones), quotes, backslashes, what JSON leaves alone (DEL,
# the line separators, a BOM, astral characters) and nothing at all.
HOSTILE = [
    "plain",
    "".join(chr(c) for c in range(1, 32)),
    'quote " backslash \\ slash / </script>',
    "\x7f\u2028\u2029\ufeff é ş İ 漢字 😀 \U0010fffd",
    "",
    "\\u0000 and \\n as text",
]


async def _insert(pool: asyncpg.Pool, org: uuid.UUID | None, text: str, i: int) -> int:
    """An audit row holding `text` in every column that can hold text."""
    value = json.dumps({text: text, "n": i, "nested": [text, None, 1.5, {"k": text}]})
    found: int = await pool.fetchval(
        """INSERT INTO audit_logs (org_id, project_id, table_name, record_id, action,
                                   old_values, new_values, changed_fields, user_id,
                                   request_id, origin_sid, ip, user_agent, details, bulk)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10, $11, $12::inet,
                   $13, $14::jsonb, $15) RETURNING id""",
        org, uuid.uuid4() if i % 2 else None, text or None, uuid.uuid4(), text or "x",
        value if i % 3 else None, value, [text, "name"] if i % 2 else [], uuid.uuid4(),
        text, text if i % 2 else None, "2001:db8::1" if i % 2 else "198.51.100.7",
        text if i % 3 else None, value, bool(i % 2))
    return found


async def _check(database_url: str, jobs: int = 1, **kw: Any) -> Report:
    conn = await asyncpg.connect(database_url)

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(database_url)

    try:
        return await verify(conn, connect=connect, jobs=jobs, **kw)
    finally:
        await conn.close()


@pytest.fixture
def small_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ranges of 4 links, so a short chain is split over every connection."""
    monkeypatch.setattr(audit_verify, "RANGE_LINKS", 4)


async def test_hostile_values_verify_in_the_database(
        world: World, pool: asyncpg.Pool, database_url: str, small_ranges: None) -> None:
    org = await world.org("hostile")
    for i, text in enumerate(HOSTILE * 3):
        await _insert(pool, org if i % 4 else None, text, i)
    await chain_all(database_url, pool)
    for jobs in (1, 3):
        report = await _check(database_url, jobs)
        assert report.intact, [b.describe() for b in report.breaks]
        assert report.links == await pool.fetchval("SELECT count(*) FROM audit_chain_links")
    # An erased value verifies by its kept digest (the row holds the erasure marker now).
    target = await pool.fetchval("SELECT min(id) FROM audit_logs WHERE org_id = $1", org)
    await pool.execute(
        """INSERT INTO audit_erasures (audit_id, field, digest)
           SELECT id, 'user_agent', sha256(convert_to(user_agent, 'UTF8')) FROM audit_logs
           WHERE id = $1 AND user_agent IS NOT NULL
           UNION ALL SELECT id, 'new_values', sha256(convert_to(new_values::text, 'UTF8'))
           FROM audit_logs WHERE id = $1""", target)
    await pool.execute("UPDATE audit_logs SET new_values = '{\"erased\": true}', "
                       "user_agent = NULL WHERE id = $1", target)
    assert (await _check(database_url, 3)).intact


async def _chained_org(world: World, pool: asyncpg.Pool, database_url: str, slug: str,
                       rows: int) -> uuid.UUID:
    """An organisation with `rows` audit rows of its own, all chained."""
    org = await world.org(slug)
    for i in range(rows):
        await _insert(pool, org, f"row {i}", i)
    await chain_all(database_url, pool)
    return org


async def _chain_of(pool: asyncpg.Pool, org: uuid.UUID) -> list[int]:
    """The audit ids of the organisation's chain, by seq (index 0 is link 1)."""
    rows = await pool.fetch("SELECT audit_id FROM audit_chain_links WHERE chain = $1 "
                            "ORDER BY seq", str(org))
    return [r["audit_id"] for r in rows]


async def _breaks(database_url: str, slug: str) -> list[tuple[str, int, str]]:
    """The chain's first break as each way finds it (one walk, and ranges on four
    connections), and the links checked before it; the two must agree on every break."""
    found, everything = [], []
    for jobs in (1, 4):
        report = await _check(database_url, jobs, org=slug)
        assert report.breaks
        everything.append([b.describe() for b in report.breaks])
        found.append((report.breaks[0].describe(), report.links, report.breaks[0].reason))
    assert found[0] == found[1] and everything[0] == everything[1]
    return found


async def test_ranges_report_the_first_break_of_the_chain(
        world: World, pool: asyncpg.Pool, database_url: str, small_ranges: None) -> None:
    org = await _chained_org(world, pool, database_url, "ranges", 30)
    ids = await _chain_of(pool, org)
    assert len(ids) >= 30 and (await _check(database_url, 4, org="ranges")).intact
    kept = await pool.fetchval("SELECT request_id FROM audit_logs WHERE id = $1", ids[11])

    # Two rewritten rows in different ranges: the earlier one is the break.
    for seq in (25, 12):
        await pool.execute("UPDATE audit_logs SET request_id = 'forged' WHERE id = $1",
                           ids[seq - 1])
    [(said, links, reason), _] = await _breaks(database_url, "ranges")
    assert f"link 12 (audit row {ids[11]})" in said and "differs" in reason and links == 11
    await pool.execute("UPDATE audit_logs SET request_id = $2 WHERE id = $1", ids[11], kept)
    assert f"link 25 (audit row {ids[24]})" in (await _breaks(database_url, "ranges"))[0][0]

    # Links 7 to 9 deleted: the first missing one is named, with the next that is stored.
    await pool.execute("DELETE FROM audit_chain_links WHERE chain = $1 AND seq BETWEEN 7 AND 9",
                       str(org))
    [(said, links, _), _] = await _breaks(database_url, "ranges")
    assert "link 7: link missing (the next stored link is 10)" in said and links == 6

    # A row gone before the gap is the first break now.
    await pool.execute("DELETE FROM audit_logs WHERE id = $1", ids[2])
    [(said, links, reason), _] = await _breaks(database_url, "ranges")
    assert f"link 3 (audit row {ids[2]})" in said and "gone" in reason and links == 2


async def test_a_published_head_before_the_break_is_checked_too(
        world: World, pool: asyncpg.Pool, database_url: str, small_ranges: None,
        tmp_path: Path) -> None:
    org = await _chained_org(world, pool, database_url, "heads", 12)
    forged = {"chain": str(org), "seq": 5, "last_id": 0, "hash": "00" * 32}
    (tmp_path / "copy.jsonl").write_text(json.dumps(forged) + "\n")
    ids = await _chain_of(pool, org)
    await pool.execute("UPDATE audit_logs SET request_id = 'forged' WHERE id = $1", ids[8])
    for jobs in (1, 4):
        report = await _check(database_url, jobs, org="heads", heads_dir=tmp_path)
        assert [b.seq for b in report.breaks] == [5]
        assert "published head" in report.breaks[0].reason


def test_jobs_is_a_small_count() -> None:
    assert _jobs("3") == 3
    for bad in ("0", "33", "x", "-1"):
        with pytest.raises(Exception, match="connections"):
            _jobs(bad)


async def test_verify_checks_with_the_connections_the_server_gives(
        world: World, pool: asyncpg.Pool, database_url: str, small_ranges: None) -> None:
    await _chained_org(world, pool, database_url, "few", 10)
    opened: list[asyncpg.Connection] = []

    async def one_more() -> asyncpg.Connection:
        if opened:
            raise OSError("too many connections")
        opened.append(await asyncpg.connect(database_url))
        return opened[-1]

    conn = await asyncpg.connect(database_url)
    try:
        report = await verify(conn, org="few", connect=one_more, jobs=4)
    finally:
        await conn.close()
    assert report.intact and report.links >= 10
    assert len(opened) == 1 and opened[0].is_closed()
