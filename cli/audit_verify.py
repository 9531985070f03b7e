"""`formula-pm audit verify`: recompute the audit log's hash chains and report the first
broken link of each (rules/audit_chain.py holds the chain; realtime/feed/chain.py extends it).

Beyond the links themselves it checks every published head — the `audit_chain_head` events
of the log and the lines of the heads files (DATA_DIR/audit-heads, or a copy kept offline)
— against the link it names: a history rewritten and re-hashed by someone with full access,
or a chain cut short, disagrees with a head published before."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from db import admin_sql
from db.queries import audit_chain as q
from rules.audit_chain import GENESIS, SERVICE_CHAIN, Break, Walk, parse_head

PREFETCH = 5000


@dataclass
class Report:
    chains: int = 0
    links: int = 0
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
                 say: Callable[[str], None] = lambda _: None) -> Report:
    """Check the chains (every one, or the organisation with slug `org`, or the service's
    with `org` = "service"), from the link of row `from_id` on when given."""
    started = time.monotonic()
    # One snapshot for everything (the leader may extend the chain meanwhile).
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        await admin_sql.act_as_system(conn, local=True)
        report = await _verify(conn, org, from_id, heads_dir, say)
    report.seconds = time.monotonic() - started
    return report


async def _verify(conn: asyncpg.Connection, org: str | None, from_id: int | None,
                  heads_dir: Path | None, say: Callable[[str], None]) -> Report:
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
        walk = await _walk(conn, chain, from_id, published.get(chain["chain"], {}))
        report.chains += 1
        report.links += walk.count
        label = chain["slug"] or chain["chain"]
        if walk.broken is not None:
            report.breaks.append(walk.broken)
            say(f"BROKEN {label}: {walk.broken.describe()}")
        else:
            say(f"intact {label}: {walk.count} link(s) checked, head {walk.seq} "
                f"{walk.previous.hex()}")
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


async def _walk(conn: asyncpg.Connection, chain: asyncpg.Record, from_id: int | None,
                published: dict[int, bytes]) -> Walk:
    name = chain["chain"]
    start, previous = 1, GENESIS
    if from_id is not None:
        found = await q.first_seq_from(conn, name, from_id)
        start = int(chain["seq"]) + 1 if found is None else found
        if start > 1:
            before = await q.link_hash(conn, name, start - 1)
            previous = GENESIS if before is None else bytes(before)
            if before is None:
                walk = Walk(name, GENESIS, 0)
                walk.fail(start - 1, None, "link missing")
                return walk
    walk = Walk(name, previous, start - 1)
    erased = await q.erasures(conn, name)
    cursor = await q.links(conn, name, start)
    # The server reads the next page while this one is hashed.
    pending = asyncio.ensure_future(q.next_page(cursor, PREFETCH))
    try:
        while batch := await pending:
            pending = asyncio.ensure_future(q.next_page(cursor, PREFETCH))
            await asyncio.sleep(0)  # the request goes out before the hashing starts
            if not _check(walk, batch, erased, published):
                return walk
    finally:
        if not pending.done():
            await pending
    walk.end(int(chain["seq"]), bytes(chain["hash"]))
    beyond = [s for s in published if s > walk.seq]
    if walk.broken is None and beyond:
        walk.fail(walk.seq + 1, None, f"a published head is at link {max(beyond)}, past "
                    f"the chain's end at {walk.seq} (rows cut off?)")
    return walk


def _check(walk: Walk, batch: list[Any], erased: dict[int, dict[str, bytes]],
           published: dict[int, bytes]) -> bool:
    """Check a page of links; False at the first break."""
    for link in batch:
        row: Any = link if link["present"] else None
        if walk.add(link["seq"], link["audit_id"], link["hash"], row,
                    erased.get(link["audit_id"])) is not None:
            return False
        kept = published.get(link["seq"])
        if kept is not None and kept != bytes(link["hash"]):
            walk.fail(link["seq"], link["audit_id"], "the link differs from its published head")
            return False
    return True


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
