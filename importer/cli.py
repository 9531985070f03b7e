"""The `formula-pm import-legacy` command: progress, summary table, report file."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from db.pool import create_pool
from importer.progress import print_summary, tracker_for
from importer.read import LegacyFormatError
from importer.report import Report
from importer.run import ImportAborted, import_legacy
from server.config import Settings


async def _run(settings: Settings, args: argparse.Namespace) -> Report:
    pool = await create_pool(settings.database_url or "", min_size=1, max_size=2,
                             command_timeout=3600)
    try:
        return await import_legacy(pool, Path(args.directory), org_slug=args.org,
                                   as_email=args.as_email, dry_run=args.dry_run,
                                   tracker=tracker_for(sys.stderr))
    finally:
        await pool.close()


def write_report(report: Report, path: Path) -> None:
    if path.suffix.lower() in (".md", ".markdown"):
        path.write_text(report.markdown(), encoding="utf-8")
    else:
        path.write_text(json.dumps(report.as_dict(), indent=2, ensure_ascii=False,
                                   default=str) + "\n", encoding="utf-8")


def run_import(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 0 when imported (or planned, with --dry-run); 1 when nothing could be written."""
    try:
        report = asyncio.run(_run(settings, args))
    except (LegacyFormatError, ImportAborted) as exc:
        print(f"formula-pm import-legacy: {exc}; nothing was written", file=sys.stderr)
        return 1
    print_summary(report)
    if args.report:
        write_report(report, Path(args.report))
        print(f"report written to {args.report}")
    return 0
