"""`formula-pm audit verify`: recompute the audit log's hash chains and report the first
broken link of each (rules/audit_chain.py holds the chain; realtime/feed/chain.py extends it).

The server recomputes every link (db/queries/audit_chain.py builds the canonical form in
SQL, the same bytes as rules.audit_chain): the rows never travel, and as each link is
checked against its predecessor's stored hash, ranges of a long chain are checked on
several connections at once, all reading one exported snapshot. The link the server finds
broken is checked again here with rules.audit_chain, which names the break.

Beyond the links themselves it checks every published head — the `audit_chain_head` events
of the log and the lines of the heads files (DATA_DIR/audit-heads, or a copy kept offline)
— against the link it names: a history rewritten and re-hashed by someone with full access,
or a chain cut short, disagrees with a head published before."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from db import admin_sql
from db.queries import audit_chain as q
from db.queries import audit_partitions as q_partitions
from rules.audit_chain import GENESIS, SERVICE_CHAIN, Break, Walk, parse_head

# A chain this long (in links) is split into ranges checked on several connections.
RANGE_LINKS = 20_000
# What one reader may hold in memory for a hash join (a range of links, and its rows).
WORK_MEM = "64MB"


@dataclass
class Report:
    chains: int = 0
    links: int = 0
    retained: int = 0  # rows dropped by retention (whole partitions), not checked
    breaks: list[Break] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def intact(self) -> bool:
        return not self.breaks


def published_heads(lines: Iterable[str]) -> tuple[dict[str, dict[int, bytes]], list[Break]]:
    """The published heads by chain and seq; a break for two heads that disagree."""
    found: dict[str, dict[int, bytes]] = {}
    conflicts: list[Break] = []
    for line in lines:
        head = parse_head(line)
        if head is None:
            continue
        known = found.setdefault(head["chain"], {})
        if known.get(head["seq"], head["hash"]) != head["hash"]:
            conflicts.append(Break(head["chain"], head["seq"], None,
                                   "two published heads of this link disagree"))
        known[head["seq"]] = head["hash"]
    return found, conflicts


def head_lines(folder: Path | None) -> list[str]:
    """Every line of the heads files of `folder` (none when it does not exist)."""
    if folder is None or not folder.is_dir():
        return []
    lines: list[str] = []
    for path in sorted(folder.glob("*.jsonl")):
        lines.extend(path.read_text(encoding="utf-8").splitlines())
    return lines


async def verify(conn: asyncpg.Connection, *, org: str | None = None, from_id: int | None = None,
                 heads_dir: Path | None = None,
                 say: Callable[[str], None] = lambda _: None,
                 connect: Callable[[], Awaitable[asyncpg.Connection]] | None = None,
                 jobs: int = 1) -> Report:
    """Check the chains (every one, or the organisation with slug `org`, or the service's
    with `org` = "service"), from the link of row `from_id` on when given. With `connect`,
    up to `jobs` connections (this one among them) check ranges of a long chain at once."""
    started = time.monotonic()
    # One snapshot for everything (the leader may extend the chain meanwhile), shared by
    # every connection that reads.
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        await _prepare(conn)
        async with _readers(conn, connect, jobs) as readers:
            report = await _verify(readers, org, from_id, heads_dir, say)
    report.seconds = time.monotonic() - started
    return report


async def _prepare(conn: asyncpg.Connection) -> None:
    """A reader of every organisation's rows that joins a range's links and rows by hash,
    in memory (settings of the transaction alone)."""
    await admin_sql.act_as_system(conn, local=True)
    await q.join_by_hash(conn, WORK_MEM)


@contextlib.asynccontextmanager
async def _readers(conn: asyncpg.Connection,
                   connect: Callable[[], Awaitable[asyncpg.Connection]] | None,
                   jobs: int) -> AsyncIterator[list[asyncpg.Connection]]:
    """`conn` and up to `jobs` - 1 more connections reading in its snapshot."""
    readers = [conn]
    if connect is None or jobs <= 1:
        yield readers
        return
    snapshot = await q.export_snapshot(conn)
    try:
        for _ in range(jobs - 1):
            try:
                other = await connect()
            except (OSError, asyncpg.PostgresError):
                break  # no connection to spare (a server's limit): check with fewer
            readers.append(other)
            await q.begin_in_snapshot(other, snapshot)
            await _prepare(other)
        yield readers
    finally:
        for other in readers[1:]:
            await other.close()


async def _verify(readers: list[asyncpg.Connection], org: str | None, from_id: int | None,
                  heads_dir: Path | None, say: Callable[[str], None]) -> Report:
    conn = readers[0]
    org_id: uuid.UUID | None = None
    service = org == SERVICE_CHAIN
    if org is not None and not service:
        org_id = await q.org_by_slug(conn, org)
        if org_id is None:
            raise LookupError(f"no organisation with slug {org!r}")
    lines = head_lines(heads_dir) + await q.logged_heads(conn)
    published, conflicts = published_heads(lines)
    report = Report(breaks=list(conflicts))
    chains = await q.chains(conn, org_id, service)
    names = {c["chain"] for c in chains}
    wanted = (lambda c: True) if org is None else (
        lambda c: c == (SERVICE_CHAIN if service else str(org_id)))
    for chain in chains:
        walk = await _walk(readers, chain, from_id, published.get(chain["chain"], {}))
        report.chains += 1
        report.links += walk.count
        label = chain["slug"] or chain["chain"]
        if walk.broken is not None:
            report.breaks.append(walk.broken)
            say(f"BROKEN {label}: {walk.broken.describe()}")
        else:
            say(f"intact {label}: {walk.count} link(s) checked, head {walk.seq} "
                f"{walk.previous.hex()}")
        if walk.retained:
            report.retained += walk.retained
            say(f"retention {label}: {walk.retained} row(s) dropped with their partitions "
                f"(links before {walk.first} not checked)")
    for chain, heads in published.items():
        if chain not in names and wanted(chain) and heads:
            first = min(heads)
            report.breaks.append(Break(chain, first, None, "a published head names a chain "
                                       "that is gone"))
            say(f"BROKEN {chain}: published heads but no chain")
    stray = await q.unchained_row(conn, org_id, service)
    if stray is not None:
        report.breaks.append(Break(stray["chain"], 0, stray["id"],
                                   "an audit row before the chain's end is not in the chain"))
        say(f"BROKEN {stray['chain']}: audit row {stray['id']} is not in the chain")
    return report


async def _walk(readers: list[asyncpg.Connection], chain: asyncpg.Record, from_id: int | None,
                published: dict[int, bytes]) -> Walk:
    conn = readers[0]
    name = chain["chain"]
    start, previous = 1, GENESIS
    if from_id is not None:
        found = await q.first_seq_from(conn, name, from_id)
        start = int(chain["seq"]) + 1 if found is None else found
        if start > 1:
            before = (await q.link_hashes(conn, name, [start - 1])).get(start - 1)
            previous = GENESIS if before is None else before[1]
            if before is None:
                walk = Walk(name, GENESIS, 0)
                walk.fail(start - 1, None, "link missing")
                return walk
    # Retention dropped the chain's oldest partitions: the check starts after the last
    # dropped link, from the hash recorded for it (links before it are not "rows gone").
    cut = await q_partitions.retained(conn, name)
    if cut is not None and start <= cut[0]:
        start, previous = cut[0] + 1, cut[1]
    walk = Walk(name, previous, start - 1)
    walk.retained = cut[2] if cut is not None else 0
    last = await q.last_seq(conn, name)
    if last is not None and last >= start:
        found_break = await _first_break(readers, name, start, previous, last)
        if found_break is not None:
            await _replay(conn, walk, found_break, start, previous)
        else:
            walk.previous = (await q.link_hashes(conn, name, [last]))[last][1]
            walk.seq, walk.count = last, last - start + 1
        await _check_published(conn, walk, start, published)
    walk.end(int(chain["seq"]), bytes(chain["hash"]))
    beyond = [s for s in published if s > walk.seq]
    if walk.broken is None and beyond:
        walk.fail(walk.seq + 1, None, f"a published head is at link {max(beyond)}, past "
                    f"the chain's end at {walk.seq} (rows cut off?)")
    return walk


async def _first_break(readers: list[asyncpg.Connection], name: str, start: int,
                       previous: bytes, last: int) -> asyncpg.Record | None:
    """The first link from `start` through `last` that does not hold, the server checking
    ranges of them on every reader at once (each link against its predecessor's stored
    hash, so ranges are independent)."""
    size = last - start + 1
    parts = max(1, min(len(readers), size // RANGE_LINKS))
    bounds = [start + size * i // parts for i in range(parts + 1)]
    found = await asyncio.gather(*(
        q.first_break(reader, name, start, previous, lo, hi)
        for reader, lo, hi in zip(readers, bounds, bounds[1:], strict=False)))
    return next((f for f in found if f is not None), None)


async def _replay(conn: asyncpg.Connection, walk: Walk, found: asyncpg.Record, start: int,
                  previous: bytes) -> None:
    """Walk to the link the server found broken and check it with rules.audit_chain (the
    reference), which names the break: every link before it held."""
    name, seq = walk.chain, int(found["seq"])
    held = seq - 1
    if found["kind"] == "gap":  # the link before is missing: walk from the last present
        before = await q.last_seq_before(conn, name, seq)
        held = start - 1 if before is None or before < start else before
    links = await q.link_hashes(conn, name, [held, seq])  # both in the snapshot read
    walk.previous = links[held][1] if held >= start else previous
    walk.seq, walk.count = held, held - start + 1
    audit_id, stored = links[seq]
    row = await q.chained_row(conn, audit_id)
    erased = await q.erased(conn, audit_id)
    if walk.add(seq, audit_id, stored, row, erased or None) is None:
        walk.fail(seq, audit_id, "the server's hash of the row is not verify's own (a "
                  "built-in function changed?)")


async def _check_published(conn: asyncpg.Connection, walk: Walk, start: int,
                           published: dict[int, bytes]) -> None:
    """Every published head of a link that held must be that link's hash."""
    kept = sorted(s for s in published if start <= s <= walk.seq)
    if not kept:
        return
    stored = await q.link_hashes(conn, walk.chain, kept)
    for seq in kept:
        audit_id, hash_ = stored[seq]
        if hash_ != published[seq]:
            walk.seq, walk.count = seq, seq - start + 1
            walk.fail(seq, audit_id, "the link differs from its published head")
            return


# --- results for Prometheus (node_exporter's textfile collector) --------------------------

METRICS_HELP = {
    "fpm_audit_chain_verify_total": ("counter", "Runs of formula-pm audit verify, by result"),
    "fpm_audit_chain_intact": ("gauge", "1 when the last verify found every chain intact"),
    "fpm_audit_chain_verified_links": ("gauge", "Links the last verify checked"),
    "fpm_audit_chain_verify_timestamp_seconds": ("gauge", "When the last verify ran"),
}


def _previous_counts(path: Path) -> dict[str, float]:
    counts = {"intact": 0.0, "broken": 0.0}
    if not path.exists():
        return counts
    for line in path.read_text(encoding="utf-8").splitlines():
        for result in counts:
            prefix = f'fpm_audit_chain_verify_total{{result="{result}"}} '
            if line.startswith(prefix):
                try:
                    counts[result] = float(line[len(prefix):])
                except ValueError:
                    pass
    return counts


def write_metrics(path: Path, report: Report, now: float) -> None:
    """Count this run into the metrics file (replaced atomically, counters carried on)."""
    counts = _previous_counts(path)
    counts["intact" if report.intact else "broken"] += 1
    values = {
        "fpm_audit_chain_verify_total": [(f'{{result="{r}"}}', n) for r, n in counts.items()],
        "fpm_audit_chain_intact": [("", 1.0 if report.intact else 0.0)],
        "fpm_audit_chain_verified_links": [("", float(report.links))],
        "fpm_audit_chain_verify_timestamp_seconds": [("", now)],
    }
    lines: list[str] = []
    for name, samples in values.items():
        kind, text = METRICS_HELP[name]
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        lines += [f"{name}{labels} {value:g}" if value < 1e15 else f"{name}{labels} {value}"
                  for labels, value in samples]
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    temporary.replace(path)
