"""The audit log's hash chain (migration 0023): rows to chain, links, heads, and the reads
of `formula-pm audit verify`. Run as the system role (the only one that may read or write
the side tables). The chain itself is computed by rules/audit_chain.py."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

# Serialises extending the chain (a transaction-level advisory lock, only ever tried: the
# feed never waits for the chain). A deposed leader that has not noticed yet finds it held,
# or the chain moved on.
CHAIN_LOCK_KEY = 0x46504D02

# An audit row in the form the canonical form reads: ids as text, time in microseconds,
# each personal value as the sha256 of its PostgreSQL text form (rules.audit_chain.digest,
# computed here by the server: the values themselves never travel).
ROW_COLUMNS = """
a.id, a.txid::text::bigint AS txid, a.org_id::text AS org_id,
a.project_id::text AS project_id, a.table_name, a.record_id::text AS record_id, a.action,
a.changed_fields, a.user_id::text AS user_id, a.request_id, a.origin_sid,
(extract(epoch FROM a.at) * 1000000)::bigint AS at_us, a.bulk,
sha256(convert_to(a.ip::text, 'UTF8')) AS d_ip,
sha256(convert_to(a.user_agent, 'UTF8')) AS d_user_agent,
sha256(convert_to(a.old_values::text, 'UTF8')) AS d_old_values,
sha256(convert_to(a.new_values::text, 'UTF8')) AS d_new_values,
sha256(convert_to(a.details::text, 'UTF8')) AS d_details
"""

# Rows after the chain's position whose transactions have all finished (below the xmin of
# the current snapshot: nothing can still appear before them), in (txid, id) order; an
# index range of ix_audit_logs_txid_id.
_TO_CHAIN = f"""
SELECT {ROW_COLUMNS} FROM audit_logs a
WHERE (a.txid, a.id) > ($1::text::xid8, $2::bigint)
  AND a.txid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY a.txid, a.id
LIMIT $3
"""  # noqa: S608 - ROW_COLUMNS


async def try_lock(conn: asyncpg.Connection) -> bool:
    """Hold the chain for the current transaction, if no one else does."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", CHAIN_LOCK_KEY))


async def position(conn: asyncpg.Connection) -> tuple[int, int]:
    """The (txid, id) of the last chained row, (0, 0) before the first."""
    row = await conn.fetchrow(
        "SELECT last_txid::text::bigint AS txid, last_id FROM audit_chain_heads "
        "ORDER BY last_txid DESC, last_id DESC LIMIT 1")
    return (0, 0) if row is None else (int(row["txid"]), int(row["last_id"]))


async def rows_to_chain(conn: asyncpg.Connection, after: tuple[int, int],
                        limit: int) -> list[asyncpg.Record]:
    return list(await conn.fetch(_TO_CHAIN, str(after[0]), after[1], limit))


async def heads(conn: asyncpg.Connection, chains: Sequence[str]) -> dict[str, asyncpg.Record]:
    """The head (seq, hash) of each named chain that has one."""
    rows = await conn.fetch(
        "SELECT chain, seq, hash FROM audit_chain_heads WHERE chain = ANY ($1::text[])",
        list(chains))
    return {r["chain"]: r for r in rows}


async def add_links(conn: asyncpg.Connection,
                    links: Sequence[tuple[int, str, int, bytes]]) -> None:
    """Insert (audit_id, chain, seq, hash) links."""
    await conn.execute(
        """INSERT INTO audit_chain_links (audit_id, chain, seq, hash)
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bytea[])""",
        [x[0] for x in links], [x[1] for x in links], [x[2] for x in links],
        [x[3] for x in links])


async def save_heads(conn: asyncpg.Connection,
                     heads_: Sequence[tuple[str, str | None, int, int, int, bytes]]) -> None:
    """Upsert (chain, org_id, seq, last_txid, last_id, hash) heads."""
    await conn.execute(
        """INSERT INTO audit_chain_heads (chain, org_id, seq, last_txid, last_id, hash)
           SELECT c, o::uuid, s, t::xid8, i, h
           FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[],
                       $6::bytea[]) AS u(c, o, s, t, i, h)
           ON CONFLICT (chain) DO UPDATE
           SET seq = excluded.seq, last_txid = excluded.last_txid,
               last_id = excluded.last_id, hash = excluded.hash, updated_at = now()""",
        [h[0] for h in heads_], [h[1] for h in heads_], [h[2] for h in heads_],
        [str(h[3]) for h in heads_], [h[4] for h in heads_], [h[5] for h in heads_])


async def unpublished_heads(conn: asyncpg.Connection, every: float) -> list[asyncpg.Record]:
    """The heads that moved since they were last published, at least `every` seconds ago
    (kept in the table: a leader restarted often still publishes on time), with the time
    of now. A head event is itself chained after its head: a chain that grew by that one
    link alone has not moved (or an idle chain would publish a new head every time)."""
    return list(await conn.fetch(
        """SELECT chain, org_id, seq, last_id, hash, now() AS now FROM audit_chain_heads
           WHERE (published_seq IS NULL OR seq > published_seq + 1)
             AND (published_at IS NULL OR published_at <= now() - make_interval(secs => $1))
           ORDER BY chain""", every))


async def mark_published(conn: asyncpg.Connection, chain: str, seq: int) -> None:
    await conn.execute(
        """UPDATE audit_chain_heads SET published_seq = greatest(published_seq, $2),
                  published_at = now() WHERE chain = $1""", chain, seq)


# --- verification -------------------------------------------------------------------------

async def chains(conn: asyncpg.Connection, org_id: uuid.UUID | None,
                 service: bool) -> list[asyncpg.Record]:
    """Every chain (or one organisation's, or the service's) with its head and the slug of
    its organisation."""
    where = "TRUE"
    args: list[Any] = []
    if org_id is not None:
        where, args = "h.org_id = $1", [org_id]
    elif service:
        where = "h.org_id IS NULL"
    return list(await conn.fetch(
        f"""SELECT h.chain, h.org_id, h.seq, h.hash, h.last_id, o.slug
            FROM audit_chain_heads h LEFT JOIN organizations o ON o.id = h.org_id
            WHERE {where} ORDER BY h.chain""", *args))  # noqa: S608 - fixed conditions


async def org_by_slug(conn: asyncpg.Connection, slug: str) -> uuid.UUID | None:
    found: uuid.UUID | None = await conn.fetchval(
        "SELECT id FROM organizations WHERE slug = $1", slug)
    return found


# The canonical form of rules.audit_chain (VERSION "fpm-audit-chain-1") built by the server:
# the same JSON array, byte for byte (PostgreSQL escapes a string as Python's json does with
# ensure_ascii off; ids and times have one text form), each personal value's digest taken
# from audit_erasures when it was erased. tests/db/test_chain_in_sql.py holds the two
# equal on hostile values. Built-ins are named by schema: nothing on the search path
# can stand in for them.
_CANONICAL = """
'["fpm-audit-chain-1","' || a.id || '",' || a.txid || ','
|| coalesce('"' || a.org_id || '"', 'null') || ','
|| coalesce('"' || a.project_id || '"', 'null') || ','
|| coalesce(pg_catalog.to_json(a.table_name)::text, 'null') || ','
|| coalesce('"' || a.record_id || '"', 'null') || ','
|| pg_catalog.to_json(a.action)::text || ','
|| coalesce(pg_catalog.to_json(a.changed_fields)::text, 'null') || ','
|| coalesce('"' || a.user_id || '"', 'null') || ','
|| coalesce(pg_catalog.to_json(a.request_id)::text, 'null') || ','
|| coalesce(pg_catalog.to_json(a.origin_sid)::text, 'null') || ','
|| (extract(epoch FROM a.at) * 1000000)::bigint || ','
|| a.bulk || ','
|| coalesce('"' || pg_catalog.encode(coalesce(e.ip,
     pg_catalog.sha256(pg_catalog.convert_to(a.ip::text, 'UTF8'))), 'hex') || '"', 'null') || ','
|| coalesce('"' || pg_catalog.encode(coalesce(e.user_agent,
     pg_catalog.sha256(pg_catalog.convert_to(a.user_agent, 'UTF8'))), 'hex') || '"', 'null') || ','
|| coalesce('"' || pg_catalog.encode(coalesce(e.old_values,
     pg_catalog.sha256(pg_catalog.convert_to(a.old_values::text, 'UTF8'))), 'hex') || '"', 'null')
|| ','
|| coalesce('"' || pg_catalog.encode(coalesce(e.new_values,
     pg_catalog.sha256(pg_catalog.convert_to(a.new_values::text, 'UTF8'))), 'hex') || '"', 'null')
|| ','
|| coalesce('"' || pg_catalog.encode(coalesce(e.details,
     pg_catalog.sha256(pg_catalog.convert_to(a.details::text, 'UTF8'))), 'hex') || '"', 'null')
|| ']'
"""

# The first link of the chain in [$3, $4) that does not hold, checked by the server: its
# predecessor missing (a gap; link $2, where the walk starts, follows $5 instead), its row
# gone, or sha256(previous hash || canonical row) not its stored hash. Each link is checked
# against its predecessor's stored hash, so ranges are independent (and run at once).
# A range reads its links (and the one before) in seq order, and the chain's audit rows
# in the span of ids they name ($6 to $7) as (id, canonical form): small either way round
# a hash join (verify's readers turn nested loops off: without statistics PostgreSQL picks
# a lookup per link in every monthly partition). OFFSET 0 keeps the planner from walking
# link by link in the hope of an early break.
_FIRST_BREAK = f"""
SELECT seq, audit_id, kind FROM (
  SELECT l.seq, l.audit_id,
         CASE WHEN l.before IS DISTINCT FROM l.seq - 1 AND l.seq <> $2 THEN 'gap'
              WHEN r.id IS NULL THEN 'gone' ELSE 'differs' END AS kind
  FROM (SELECT seq, audit_id, hash, lag(seq) OVER w AS before, lag(hash) OVER w AS previous
        FROM audit_chain_links WHERE chain = $1 AND seq >= $3 - 1 AND seq < $4
        WINDOW w AS (ORDER BY seq)) l
  LEFT JOIN (
    SELECT a.id, pg_catalog.convert_to({_CANONICAL}, 'UTF8') AS canonical
    FROM audit_logs a
    LEFT JOIN (SELECT audit_id,
                      (array_agg(digest) FILTER (WHERE field = 'ip'))[1] AS ip,
                      (array_agg(digest) FILTER (WHERE field = 'user_agent'))[1] AS user_agent,
                      (array_agg(digest) FILTER (WHERE field = 'old_values'))[1] AS old_values,
                      (array_agg(digest) FILTER (WHERE field = 'new_values'))[1] AS new_values,
                      (array_agg(digest) FILTER (WHERE field = 'details'))[1] AS details
               FROM audit_erasures WHERE audit_id BETWEEN $6 AND $7 GROUP BY audit_id) e
           ON e.audit_id = a.id
    WHERE a.id BETWEEN $6 AND $7 AND coalesce(a.org_id::text, 'service') = $1) r
    ON r.id = l.audit_id
  WHERE l.seq >= $3
    AND ((l.before IS DISTINCT FROM l.seq - 1 AND l.seq <> $2) OR r.id IS NULL
         OR pg_catalog.sha256((CASE WHEN l.seq = $2 THEN $5::bytea ELSE l.previous END)
                              || r.canonical) <> l.hash)
  OFFSET 0) broken
ORDER BY seq LIMIT 1
"""  # noqa: S608 - _CANONICAL


async def first_break(conn: asyncpg.Connection, chain: str, start: int, previous: bytes,
                      lo: int, hi: int) -> asyncpg.Record | None:
    """The first link in [lo, hi) of a walk that starts at link `start` after `previous`
    which does not hold (seq, audit_id, kind: gap, gone or differs); None when all do."""
    # `+ 0`: the bounds from the range's links, not the first of the audit id index that
    # happens to be in the range.
    span = await conn.fetchrow(
        "SELECT min(audit_id + 0) AS low, max(audit_id + 0) AS high FROM audit_chain_links "
        "WHERE chain = $1 AND seq >= $2 AND seq < $3", chain, lo, hi)
    if span is None or span["low"] is None:
        return None
    return await conn.fetchrow(_FIRST_BREAK, chain, start, lo, hi, previous, span["low"],
                               span["high"])


async def last_seq(conn: asyncpg.Connection, chain: str) -> int | None:
    """The seq of the chain's last stored link; None when it has none."""
    found: int | None = await conn.fetchval(
        "SELECT max(seq) FROM audit_chain_links WHERE chain = $1", chain)
    return found


async def last_seq_before(conn: asyncpg.Connection, chain: str, seq: int) -> int | None:
    found: int | None = await conn.fetchval(
        "SELECT max(seq) FROM audit_chain_links WHERE chain = $1 AND seq < $2", chain, seq)
    return found


async def link_hashes(conn: asyncpg.Connection, chain: str,
                      seqs: Sequence[int]) -> dict[int, tuple[int, bytes]]:
    """(audit_id, hash) of the chain's links at `seqs`, by seq."""
    rows = await conn.fetch(
        "SELECT seq, audit_id, hash FROM audit_chain_links WHERE chain = $1 "
        "AND seq = ANY ($2::bigint[])", chain, list(seqs))
    return {int(r["seq"]): (int(r["audit_id"]), bytes(r["hash"])) for r in rows}


async def chained_row(conn: asyncpg.Connection, audit_id: int) -> asyncpg.Record | None:
    """An audit row as it is now, in the form rules.audit_chain.canonical reads."""
    return await conn.fetchrow(
        f"SELECT {ROW_COLUMNS} FROM audit_logs a WHERE a.id = $1", audit_id)  # noqa: S608


async def export_snapshot(conn: asyncpg.Connection) -> str:
    """The current transaction's snapshot, for other connections to read in."""
    found: str = await conn.fetchval("SELECT pg_export_snapshot()")
    return found


async def begin_in_snapshot(conn: asyncpg.Connection, snapshot: str) -> None:
    """Begin a read-only REPEATABLE READ transaction that reads in an exported snapshot."""
    if not snapshot.replace("-", "").isalnum():
        raise ValueError(f"not a snapshot id: {snapshot!r}")
    await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
                       f"SET TRANSACTION SNAPSHOT '{snapshot}'")


async def join_by_hash(conn: asyncpg.Connection, work_mem: str) -> None:
    """For the rest of the transaction: joins by hash (no nested loops) in `work_mem`."""
    await conn.execute("SELECT set_config('work_mem', $1, true), "
                       "set_config('enable_nestloop', 'off', true)", work_mem)


async def first_seq_from(conn: asyncpg.Connection, chain: str, audit_id: int) -> int | None:
    """The first link of the chain whose audit row has an id of at least `audit_id`."""
    found: int | None = await conn.fetchval(
        "SELECT min(seq) FROM audit_chain_links WHERE chain = $1 AND audit_id >= $2",
        chain, audit_id)
    return found


async def erased(conn: asyncpg.Connection, audit_id: int) -> dict[str, bytes]:
    """The kept digests of an audit row's erased values, by field."""
    rows = await conn.fetch(
        "SELECT field, digest FROM audit_erasures WHERE audit_id = $1", audit_id)
    return {r["field"]: bytes(r["digest"]) for r in rows}


async def unchained_row(conn: asyncpg.Connection, org_id: uuid.UUID | None,
                        service: bool) -> asyncpg.Record | None:
    """An audit row at or before the chain's position that no link names (written into the
    past, or its link deleted), in the chosen scope; None when every such row is linked."""
    scope = "TRUE"
    args: list[Any] = []
    if org_id is not None:
        scope, args = "a.org_id = $1", [org_id]
    elif service:
        scope = "a.org_id IS NULL"
    return await conn.fetchrow(
        f"""SELECT a.id, coalesce(a.org_id::text, 'service') AS chain FROM audit_logs a
            WHERE (a.txid, a.id) <= (SELECT last_txid, last_id FROM audit_chain_heads
                                     ORDER BY last_txid DESC, last_id DESC LIMIT 1)
              AND {scope}
              AND NOT EXISTS (SELECT 1 FROM audit_chain_links l WHERE l.audit_id = a.id)
            ORDER BY a.txid, a.id LIMIT 1""", *args)  # noqa: S608 - fixed conditions


async def logged_heads(conn: asyncpg.Connection) -> list[str]:
    """The details (JSON text) of every chain head published into the audit log."""
    rows = await conn.fetch(
        "SELECT details::text AS details FROM audit_logs WHERE action = 'audit_chain_head' "
        "AND details IS NOT NULL ORDER BY id")
    return [r["details"] for r in rows]
