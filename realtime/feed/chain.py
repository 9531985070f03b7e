"""The change leader extends the audit log's hash chain and publishes its heads.

Rows are chained in (txid, id) order once they are below the snapshot horizon (every
transaction that could still write before them has finished), so the order never changes
after the fact; writers pay nothing. The links, the heads and the position (the largest
head) move in one transaction under an advisory lock (tried, never waited for: the feed
does not wait for the chain): a leader restarted mid-stream, or two leaders for a moment,
continue the chain exactly where it stands.

Every `head_every` seconds (the time of each head's last publication is kept in its row)
each head that moved is published: as an `audit_chain_head`
event in the audit log (which the chain then covers too) and as a line of
`DATA_DIR/audit-heads/heads-YYYY-MM-DD.jsonl` — a copy kept elsewhere detects a rewrite of
history even by someone who can recompute every hash.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from db.queries import audit_chain as q
from db.queries.events import record_event
from rules.audit_chain import GENESIS, chain_of, head_record, step

log = logging.getLogger("formula_pm.realtime.chain")

HEAD_EVENT = "audit_chain_head"


@dataclass
class ChainStats:
    linked: int = 0
    published: int = 0
    extended_at: float = 0.0


class Chainer:
    """Extends the chain on the leader's connection (as the system role)."""

    def __init__(self, batch: int = 2000, heads_dir: Path | None = None,
                 head_every: float = 3600.0) -> None:
        self.batch = batch
        self.heads_dir = heads_dir
        self.head_every = head_every
        self.stats = ChainStats()
        # When heads were last looked at; when each was published is in its row.
        self._looked_at = -float("inf")

    async def extend(self, conn: asyncpg.Connection, rounds: int = 10) -> int:
        """Chain the rows below the horizon (at most `rounds` batches); how many."""
        total = 0
        for _ in range(rounds):
            linked = await self._extend_once(conn)
            total += linked
            if linked < self.batch:
                break
        self.stats.linked += total
        self.stats.extended_at = time.monotonic()
        return total

    async def _extend_once(self, conn: asyncpg.Connection) -> int:
        async with conn.transaction():
            if not await q.try_lock(conn):
                return 0  # another leader's (a deposed one, still finishing): next time
            after = await q.position(conn)
            rows = await q.rows_to_chain(conn, after, self.batch)
            if not rows:
                return 0
            names = sorted({chain_of(r["org_id"]) for r in rows})
            known = await q.heads(conn, names)
            state = {c: (int(h["seq"]), bytes(h["hash"])) for c, h in known.items()}
            heads: dict[str, tuple[str, str | None, int, int, int, bytes]] = {}
            links: list[tuple[int, str, int, bytes]] = []
            for row in rows:
                chain = chain_of(row["org_id"])
                seq, previous = state.get(chain, (0, GENESIS))
                hash_ = step(previous, row)
                state[chain] = (seq + 1, hash_)
                links.append((row["id"], chain, seq + 1, hash_))
                heads[chain] = (chain, row["org_id"], seq + 1, row["txid"], row["id"], hash_)
            await q.add_links(conn, links)
            await q.save_heads(conn, list(heads.values()))
        return len(rows)

    def head_due(self) -> bool:
        """Time to look for heads to publish (at most once a minute)."""
        return time.monotonic() - self._looked_at >= min(self.head_every, 60.0)

    async def publish_heads(self, conn: asyncpg.Connection) -> int:
        """Publish every head that moved since its last publication, `head_every` seconds
        ago or more; how many."""
        self._looked_at = time.monotonic()
        heads = await q.unpublished_heads(conn, self.head_every)
        if not heads:
            return 0
        records = [head_record(h["chain"], int(h["seq"]), int(h["last_id"]), bytes(h["hash"]),
                               h["now"].isoformat()) for h in heads]
        if self.heads_dir is not None:
            await asyncio.to_thread(write_heads, self.heads_dir, records)
        for head, record in zip(heads, records, strict=True):
            async with conn.transaction():
                await record_event(conn, HEAD_EVENT, record, org_id=head["org_id"])
                await q.mark_published(conn, head["chain"], int(head["seq"]))
        self.stats.published += len(records)
        log.info("audit chain heads published", extra={"heads": len(records)})
        return len(records)


def write_heads(folder: Path, records: list[dict[str, object]]) -> Path:
    """Append the heads to today's file of `folder` (created as needed), flushed to disk."""
    folder.mkdir(parents=True, exist_ok=True)
    day = str(records[0]["at"])[:10] if records else time.strftime("%Y-%m-%d")
    path = folder / f"heads-{day}.jsonl"
    with path.open("a", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, sort_keys=True) + "\n")
        out.flush()
        os.fsync(out.fileno())
    return path
