"""The change leader keeps the audit log's monthly partitions (migration 0024): this month's
and the next `ahead` months' exist before a row needs them, and with a retention of
`retention_months` every whole month older than that is exported (when `export_dir` is
set: OCSF JSON lines, `audit-YYYYMM.jsonl`, written and fsynced before anything is
dropped) and then detached and dropped as a whole partition — never row by row. The
definer functions refuse a month still kept or a row not yet in the hash chain, and record
where each chain was cut, so `formula-pm audit verify` checks what remains."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from db.cursor_codec import encode_feed_cursor
from db.queries import audit_partitions as q
from rules.ocsf import ocsf_line

log = logging.getLogger("formula_pm.realtime.partitions")

PAGE = 5000


@dataclass
class PartitionStats:
    created: int = 0
    dropped: int = 0
    rows_dropped: int = 0
    rows_exported: int = 0
    kept_at: float = -float("inf")


class PartitionKeeper:
    """Runs on the leader's connection (as the system role) every `every` seconds."""

    def __init__(self, ahead: int = 2, retention_months: int | None = None,
                 export_dir: Path | None = None, every: float = 3600.0) -> None:
        self.ahead = ahead
        self.retention_months = retention_months
        self.export_dir = export_dir
        self.every = every
        self.stats = PartitionStats()

    def due(self) -> bool:
        return time.monotonic() - self.stats.kept_at >= self.every

    async def keep(self, conn: asyncpg.Connection) -> None:
        """Create the partitions ahead; export and drop the expired ones."""
        self.stats.kept_at = time.monotonic()
        made = await q.create_ahead(conn, self.ahead)
        if made:
            self.stats.created += made
            log.info("audit partitions created ahead", extra={"partitions": made})
        if self.retention_months is None:
            return
        for part in await q.expired(conn, self.retention_months):
            if self.export_dir is not None:
                await self.export(conn, part["name"], part["starts"])
            rows = await q.drop(conn, part["name"], self.retention_months)
            self.stats.dropped += 1
            self.stats.rows_dropped += rows
            log.info("audit partition dropped (retention)",
                     extra={"partition": part["name"], "rows": rows})

    async def export(self, conn: asyncpg.Connection, name: str, starts: Any) -> Path:
        """Write the partition's rows as OCSF JSON lines (a whole file, or none)."""
        assert self.export_dir is not None
        target = self.export_dir / f"audit-{name.removeprefix('audit_logs_p')}.jsonl"
        partial = target.with_suffix(".jsonl.partial")
        await asyncio.to_thread(self.export_dir.mkdir, parents=True, exist_ok=True)
        out = await asyncio.to_thread(partial.open, "wb")
        try:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                async for page in q.month_pages(conn, starts, PAGE):
                    lines = b"".join(ocsf_line(r, encode_feed_cursor((r["txid"], r["id"])))
                                     for r in page)
                    await asyncio.to_thread(out.write, lines)
                    self.stats.rows_exported += len(page)
            await asyncio.to_thread(_sync, out)
        finally:
            out.close()
        await asyncio.to_thread(partial.replace, target)
        return target


def _sync(out: Any) -> None:
    out.flush()
    os.fsync(out.fileno())
