"""The operator's commands of `formula-pm`: backup, restore, audit, cache, db."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from server.config import ConfigError, Settings

SubParsers = Any  # argparse's private _SubParsersAction


def _resolve(settings: Settings) -> Settings:
    from cli.main import resolve_database

    return resolve_database(settings)


def _key(path: str | None) -> bytes | None:
    from cli.backup.sealed import SealError, read_key_file

    if path is None:
        return None
    try:
        return read_key_file(Path(path))
    except SealError as exc:
        raise ConfigError(str(exc)) from None


# --- backup and restore -------------------------------------------------------------------

def _files_root(settings: Settings) -> Path | None:
    """The file:// storage folder a backup includes (and a restore fills); None with S3,
    whose bucket is kept by the provider (versioning), not by this command."""
    storage = settings.storage
    return storage.files_root(settings.data_dir) if storage.kind == "file" else None


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from cli.backup.dump import BackupError, BackupRequest, take_backup, terminal_progress
    from cli.backup.manifest import Manifest
    from server.system_events import BACKUP_COMPLETED, BACKUP_FAILED, record_with_url

    if args.keep is not None and args.keep < 1:
        raise ConfigError("--keep must be at least 1")
    key = _key(args.encrypt_key_file)
    settings = _resolve(settings)
    url = settings.database_url or ""
    request = BackupRequest(url=url, directory=Path(args.to), key=key, keep=args.keep,
                            embedded=settings.embedded, files_root=_files_root(settings))
    started = time.monotonic()
    try:
        path = asyncio.run(take_backup(request, terminal_progress()))
    except (BackupError, ConfigError, OSError) as exc:
        asyncio.run(record_with_url(url, BACKUP_FAILED, {"reason": str(exc),
                                                         "directory": str(args.to)}))
        if isinstance(exc, ConfigError):
            raise
        print(f"formula-pm: backup failed: {exc}", file=sys.stderr)
        return 1
    manifest = Manifest.read(path)
    seconds = round(time.monotonic() - started, 3)
    asyncio.run(record_with_url(url, BACKUP_COMPLETED, {
        "file": path.name, "size_bytes": manifest.size_bytes, "sha256": manifest.sha256,
        "encrypted": manifest.encrypted, "rows": manifest.total_rows, "seconds": seconds,
        "schema_revision": manifest.schema_revision,
        "highest_audit_id": manifest.highest_audit_id}))
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    print(f"{manifest.total_rows} rows in {len(manifest.tables)} tables, "
          f"{manifest.size_bytes / 1e6:,.1f} MB in {seconds:.1f} s; manifest "
          f"{path.name.split('.dump')[0]}.manifest.json")
    print(path)
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    from cli.backup.manifest import ManifestError
    from cli.backup.restore import RestoreError, RestoreRequest, restore_backup

    key = _key(args.key_file)
    if args.to:
        from db.dsn import BadDatabaseUrl, check_database_url

        try:
            check_database_url(args.to)
        except BadDatabaseUrl as exc:
            raise ConfigError(str(exc).replace("DATABASE_URL", "--to")) from None
        target = args.to
        embedded = False
    else:
        settings = _resolve(settings)
        target, embedded = settings.database_url or "", settings.embedded
    request = RestoreRequest(file=Path(args.file), target_url=target, key=key,
                             force=args.force, verify=args.verify, embedded=embedded,
                             files_root=_files_root(settings))
    try:
        comparison = asyncio.run(restore_backup(request))
    except (RestoreError, ManifestError) as exc:
        print(f"formula-pm: restore failed, nothing was changed: {exc}", file=sys.stderr)
        return 1
    for line in comparison.lines():
        print(line)
    if args.verify:
        print(f"verified: {args.file} restores completely (the scratch database is dropped)")
    else:
        print(f"restored into {comparison.database}; run `formula-pm migrate` if the backup "
              "is of an older release")
    return 0


def add_backup_commands(sub: SubParsers) -> None:
    backup = sub.add_parser(
        "backup", help="write a consistent backup of the database (and its manifest)",
        description="Dump the service database (pg_dump, custom format, from one snapshot) "
        "into DIR with a manifest beside it (schema revision, rows per table, highest audit "
        "id, size, sha256, times, server version). Prints the backup's path as its last "
        "line. Needs pg_dump of the server's major version.")
    backup.add_argument("--to", default="backups", metavar="DIR",
                        help="directory of the backups (default ./backups)")
    backup.add_argument("--keep", type=int, metavar="N",
                        help="then remove all but the newest N backups of this database")
    backup.add_argument("--encrypt-key-file", metavar="F",
                        help="encrypt with the key in F (AES-256-GCM, streamed; at least "
                        "32 bytes: `openssl rand -base64 48 > F`)")
    backup.set_defaults(func=cmd_backup, signs_tokens=False)

    restore = sub.add_parser(
        "restore", help="restore a backup (or --verify it: a restore drill)",
        description="Check the backup against its manifest (sha256), decrypt it, restore it "
        "into a scratch database, compare its rows and highest audit id with the manifest, "
        "then put it in place of the target. Any failure leaves the target as it was. "
        "Stop the workers first when replacing the live database.")
    restore.add_argument("file", metavar="FILE", help="the .dump or .dump.sealed file")
    restore.add_argument("--to", metavar="URL",
                         help="target database (default DATABASE_URL); created if missing")
    restore.add_argument("--force", action="store_true",
                         help="replace a target that is not empty")
    restore.add_argument("--verify", action="store_true",
                         help="restore into a temporary database, compare, drop it")
    restore.add_argument("--key-file", metavar="F", help="the key of an encrypted backup")
    restore.set_defaults(func=cmd_restore, signs_tokens=False)


# --- the audit trail ----------------------------------------------------------------------

def _since(value: str) -> Any:
    """An ISO time (UTC unless it says otherwise) or an age: 30m, 24h, 7d."""
    import datetime as dt
    import re

    match = re.fullmatch(r"(\d+)([smhd])", value.strip())
    if match:
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
        return dt.datetime.now(dt.UTC) - dt.timedelta(seconds=int(match.group(1)) * unit)
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a time: {value!r} (an ISO time, or an age like 30m, 24h, 7d)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _jobs(value: str) -> int:
    """A count of connections: 1 to 32."""
    try:
        jobs = int(value)
    except ValueError:
        jobs = 0
    if not 1 <= jobs <= 32:
        raise argparse.ArgumentTypeError(f"not a number of connections (1-32): {value!r}")
    return jobs


async def _audit_rows(url: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    import asyncpg

    from db import admin_sql
    from db.queries import audit

    conn = await asyncpg.connect(url)
    try:
        await admin_sql.act_as_system(conn)  # every organisation's rows
        rows = await audit.operator_list(conn, system_only=args.system, since=args.since,
                                         action=args.action, limit=args.limit)
    finally:
        await conn.close()
    return [dict(r) for r in reversed(rows)]


def cmd_audit_list(settings: Settings, args: argparse.Namespace) -> int:
    import json

    settings = _resolve(settings)
    rows = asyncio.run(_audit_rows(settings.database_url or "", args))
    if args.json:
        for row in rows:
            row["details"] = json.loads(row["details"]) if row["details"] else None
        print(json.dumps(rows, default=str, indent=2))
        return 0
    for row in rows:
        what = row["table_name"] or ""
        print(f"{row['id']:>8}  {row['at']:%Y-%m-%d %H:%M:%S}  {row['action']:<18} "
              f"{row['org'] or '(service)':<16} {what:<14} {row['details'] or ''}")
    return 0


async def _audit_verify(url: str, args: argparse.Namespace, heads: Path | None) -> int:
    import asyncpg

    from cli.audit_verify import verify, write_metrics
    from db import admin_sql
    from db.queries.events import record_event

    conn = await asyncpg.connect(url)
    try:
        report = await verify(conn, org=args.org, from_id=args.from_id, heads_dir=heads,
                              say=print, connect=lambda: asyncpg.connect(url),
                              jobs=args.jobs)
        await admin_sql.act_as_system(conn)
        await record_event(conn, "audit_chain_verified", {
            "result": "intact" if report.intact else "broken", "org": args.org,
            "from": args.from_id, "chains": report.chains, "links": report.links,
            "breaks": [b.describe() for b in report.breaks[:10]]})
    except LookupError as exc:
        raise ConfigError(str(exc)) from None
    finally:
        await conn.close()
    if args.metrics_file:
        write_metrics(Path(args.metrics_file), report, time.time())
    rate = report.links / report.seconds if report.seconds else 0.0
    state = "intact" if report.intact else f"BROKEN ({len(report.breaks)} break(s))"
    print(f"audit chain {state}: {report.chains} chain(s), {report.links} link(s) checked "
          f"in {report.seconds:.2f} s ({rate:,.0f} rows/s)")
    return 0 if report.intact else 1


def cmd_audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    settings = _resolve(settings)
    heads = Path(args.heads) if args.heads else settings.data_dir / "audit-heads"
    return asyncio.run(_audit_verify(settings.database_url or "", args, heads))


async def _audit_export(url: str, args: argparse.Namespace) -> int:
    import asyncpg

    from db import admin_sql
    from db.cursor_codec import decode_feed_cursor as decode_cursor
    from db.cursor_codec import encode_feed_cursor as encode_cursor
    from db.queries import audit
    from db.queries.events import record_event
    from realtime.feed.cursor import ORIGIN
    from rules.ocsf import ocsf_line

    try:
        after = decode_cursor(args.after) if args.after else ORIGIN
    except ValueError:
        raise ConfigError("--after is not a cursor of this export") from None
    out = sys.stdout.buffer
    rows, last = 0, args.after
    conn = await asyncpg.connect(url)
    try:
        await admin_sql.act_as_system(conn)  # every organisation's rows
        await record_event(conn, "audit_exported", {"since": args.since, "after": args.after,
                                                    "limit": args.limit, "by": "operator"})
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            async for row in audit.export_cursor(conn, after, args.since,
                                                 args.limit or 2**62, 2000):
                last = encode_cursor((row["txid"], row["id"]))
                out.write(ocsf_line(row, last))
                rows += 1
    finally:
        await conn.close()
    out.flush()
    print(f"formula-pm: {rows} event(s) exported; resume with --after {last or '(start)'}",
          file=sys.stderr)
    return 0


def cmd_audit_export(settings: Settings, args: argparse.Namespace) -> int:
    settings = _resolve(settings)
    return asyncio.run(_audit_export(settings.database_url or "", args))


async def _erase_user(url: str, args: argparse.Namespace) -> int:
    import asyncpg

    from db import admin_sql
    from db.queries import erasure
    from db.queries import sessions as sessions_q
    from db.queries.events import record_event
    from realtime.feed.chain import Chainer

    conn = await asyncpg.connect(url)
    try:
        await admin_sql.act_as_system(conn)
        user = await erasure.find_user(conn, args.org, args.email)
        if user is None:
            raise ConfigError(f"no user {args.email!r} in organisation {args.org!r}")
        async with conn.transaction():
            await erasure.anonymise_user(conn, user["id"])
            revoked = await sessions_q.revoke_all_for_user(conn, user["id"], "erased")
        # The chain must cover every row of theirs first (the leader extends it too; the
        # chain's lock keeps the two apart).
        chainer, deadline = Chainer(), time.monotonic() + args.wait
        while await erasure.unchained_rows(conn, user["id"]):
            if time.monotonic() > deadline:
                break
            if not await chainer.extend(conn):
                await asyncio.sleep(0.2)
        erased, waiting = await erasure.erase_audit_values(conn, user["id"])
        await record_event(conn, "person_erased", {"rows": erased, "waiting": waiting,
                                                   "sessions": len(revoked)},
                           org_id=user["org_id"], table="users", record_id=user["id"])
    finally:
        await conn.close()
    print(f"user {user['id']} erased: personal values of {erased} audit row(s) replaced "
          f"(digests kept: the chain still verifies)")
    if waiting:
        print(f"formula-pm: {waiting} audit row(s) are not chained yet; run the command "
              "again once the change leader has caught up", file=sys.stderr)
        return 1
    return 0


def cmd_users_erase(settings: Settings, args: argparse.Namespace) -> int:
    if not args.yes:
        raise ConfigError("erasure cannot be undone: add --yes")
    settings = _resolve(settings)
    return asyncio.run(_erase_user(settings.database_url or "", args))


def add_users_commands(sub: SubParsers) -> None:
    users = sub.add_parser("users", help="the operator's user commands (erase)")
    commands = users.add_subparsers(dest="users_command", required=True, metavar="COMMAND")
    erase = commands.add_parser(
        "erase", help="erase a person (KVKK/GDPR): their data, and in the audit log",
        description="Anonymise the user (name, e-mail, phone, position ... replaced; "
        "deactivated; sessions ended) and replace the personal values of their audit rows "
        "(values of their user row, details, IP addresses, user agents), keeping each "
        "value's digest so the audit chain still verifies. Their random id stays on the "
        "rows: a pseudonym nobody can link to them any more. Audited (person_erased).")
    erase.add_argument("--org", required=True, metavar="SLUG")
    erase.add_argument("--email", required=True, metavar="EMAIL")
    erase.add_argument("--wait", type=float, default=30.0, metavar="SECONDS",
                       help="how long to wait for the chain to cover their rows (30)")
    erase.add_argument("--yes", action="store_true", help="really erase (cannot be undone)")
    erase.set_defaults(func=cmd_users_erase, signs_tokens=False)


def add_audit_commands(sub: SubParsers) -> None:
    audit = sub.add_parser("audit", help="the audit trail (every organisation, and the "
                           "service's own events)",
                           description="Read the audit trail as the operator: every "
                           "organisation's rows and the service's own events (startup, "
                           "shutdown, leader_changed, migration_applied, backups, "
                           "server_error).")
    commands = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    listing = commands.add_parser("list", help="print audit rows, oldest first",
                                  description="Print audit rows (the newest --limit, oldest "
                                  "first).")
    listing.add_argument("--system", action="store_true",
                         help="only the service's own rows (no organisation)")
    listing.add_argument("--since", type=_since, metavar="T",
                         help="from this time (ISO, UTC by default) or age (30m, 24h, 7d)")
    listing.add_argument("--action", metavar="A", help="only this action (e.g. startup)")
    listing.add_argument("--limit", type=int, default=200, help="at most this many (200)")
    listing.add_argument("--json", action="store_true", help="a JSON array")
    listing.set_defaults(func=cmd_audit_list, signs_tokens=False)
    check = commands.add_parser(
        "verify", help="recompute the hash chains; exit 1 at a broken link",
        description="Recompute the audit log's hash chains (one per organisation, one for "
        "the service) and compare them with every published chain head (audit_chain_head "
        "events and the heads files). Prints the first broken link of each chain; exits 0 "
        "when every chain is intact, 1 when one is broken.")
    check.add_argument("--org", metavar="SLUG",
                       help="only this organisation's chain ('service': the service's)")
    check.add_argument("--from", dest="from_id", type=int, metavar="ID",
                       help="start at the first link whose audit row id is at least ID "
                       "(trusting the link before it)")
    check.add_argument("--heads", metavar="DIR",
                       help="published heads to check against (default DATA_DIR/audit-heads;"
                       " point it at an offline copy)")
    check.add_argument("--jobs", type=_jobs, default=min(os.cpu_count() or 1, 8), metavar="N",
                       help="connections checking ranges of a long chain at once (default: "
                       "the number of CPUs, at most 8)")
    check.add_argument("--metrics-file", metavar="FILE",
                       help="also count the result into this Prometheus text file (for "
                       "node_exporter's textfile collector: FILE ends in .prom)")
    check.set_defaults(func=cmd_audit_verify, signs_tokens=False)
    export = commands.add_parser(
        "export", help="every organisation's audit rows as OCSF JSON lines on stdout",
        description="Write audit rows (every organisation's and the service's) as OCSF JSON "
        "lines to standard output, in the order of the chain, only rows whose transactions "
        "have all finished: resume with --after set to the last line's unmapped.cursor "
        "(also printed on stderr) and nothing is lost or repeated. Audited "
        "(audit_exported).")
    export.add_argument("--since", type=_since, metavar="T",
                        help="only rows from this time (ISO, UTC by default) or age (30m, 7d)")
    export.add_argument("--after", metavar="CURSOR", help="resume after this cursor")
    export.add_argument("--limit", type=int, default=0, help="at most this many (0: all)")
    export.set_defaults(func=cmd_audit_export, signs_tokens=False)


# --- the cache ----------------------------------------------------------------------------

def _redis(settings: Settings) -> Any:
    import redis.asyncio as aioredis

    if not settings.redis_url:
        raise ConfigError("no REDIS_URL: each worker has its own in-process cache, which "
                          "a restart empties")
    return aioredis.from_url(settings.redis_url, socket_timeout=5)


async def _cache_stats(settings: Settings) -> dict[str, Any]:
    from server.cache.admin import read_stats

    client = _redis(settings)
    try:
        return await read_stats(client, settings.key_prefix)
    finally:
        await client.aclose()


def cmd_cache_stats(settings: Settings, args: argparse.Namespace) -> int:
    import json

    stats = asyncio.run(_cache_stats(settings))
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    print(f"hits {stats['hits']}, misses {stats['misses']}, hit rate {stats['hit_rate']:.1%}, "
          f"keys {stats['keys']}, epoch {stats['epoch']}, Redis memory "
          f"{stats['redis_used_memory']}")
    for name, worker in stats["workers"].items():
        print(f"  {name:<32} {worker.get('status', '?'):<9} hits {worker.get('hits', 0):>9}"
              f"  misses {worker.get('misses', 0):>9}  hit rate "
              f"{float(worker.get('hit_rate', 0)):.1%}  errors {worker.get('errors', 0)}"
              f"  ({worker['age_seconds']} s ago)")
    if not stats["workers"]:
        print("  no worker has published statistics (none running, or none with REDIS_URL)")
    return 0


async def _flush(settings: Settings, slug: str | None) -> str:
    from db.pool import create_pool, system_transaction
    from db.queries import organizations
    from server.cache.admin import flush_all, flush_org, org_keys

    client = _redis(settings)
    try:
        if slug is None:
            epoch = await flush_all(client, settings.key_prefix)
            return f"flushed: every worker now reads cache epoch {epoch}"
        pool = await create_pool(settings.database_url or "", min_size=1, max_size=1)
        try:
            async with system_transaction(pool) as conn:
                org_id = await organizations.id_by_slug(conn, slug)
                if org_id is None:
                    raise ConfigError(f"no organisation with slug {slug!r}")
                bump, records = await org_keys(conn, org_id)
        finally:
            await pool.close()
        await flush_org(client, settings.key_prefix, bump, records)
        return (f"flushed organisation {slug}: {len(bump)} generations bumped, "
                f"{len(records)} record keys dropped")
    finally:
        await client.aclose()


def cmd_cache_flush(settings: Settings, args: argparse.Namespace) -> int:
    if args.org:
        settings = _resolve(settings)
    print(asyncio.run(_flush(settings, args.org)))
    return 0


def add_cache_commands(sub: SubParsers) -> None:
    cache = sub.add_parser("cache", help="cache statistics and flushing",
                           description="The shared Redis cache of every worker.")
    commands = cache.add_subparsers(dest="cache_command", required=True, metavar="COMMAND")
    stats = commands.add_parser("stats", help="hits, misses, hit rate, keys, memory, per "
                                "worker", description="Statistics as the workers last "
                                "published them (every CACHE_STATS_INTERVAL seconds).")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(func=cmd_cache_stats, signs_tokens=False)
    flush = commands.add_parser(
        "flush", help="invalidate everything, or one organisation, on every worker",
        description="Without --org: a new cache epoch, so no worker reads anything cached "
        "before (within a second). With --org: that organisation's lists, summaries, "
        "searches, visibility sets and records only. Never FLUSHDB.")
    flush.add_argument("--org", metavar="SLUG", help="only this organisation")
    flush.set_defaults(func=cmd_cache_flush, signs_tokens=False)


# --- the database -------------------------------------------------------------------------

def cmd_db_stats(settings: Settings, args: argparse.Namespace) -> int:
    import json

    from cli.db_stats import database_stats, render

    settings = _resolve(settings)
    stats = asyncio.run(database_stats(settings.database_url or ""))
    if args.json:
        print(json.dumps(stats, indent=2, default=str))
    else:
        print("\n".join(render(stats)))
    return 0


def add_db_commands(sub: SubParsers) -> None:
    db = sub.add_parser("db", help="database statistics", description="The database, as "
                        "the operator sees it (every organisation).")
    commands = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    stats = commands.add_parser(
        "stats", help="sizes, rows, index usage, cache hit ratio, slow statements, "
        "connections, leader lag", description="Table sizes and rows, index usage (unused "
        "indexes), the PostgreSQL cache hit ratio, the slowest statements (when "
        "pg_stat_statements is loaded), connections by state, the change leader's lag.")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(func=cmd_db_stats, signs_tokens=False)


def add_ops_commands(sub: SubParsers) -> None:
    add_backup_commands(sub)
    add_audit_commands(sub)
    add_users_commands(sub)
    add_cache_commands(sub)
    add_db_commands(sub)
