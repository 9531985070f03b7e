"""The `formula-pm` command line: serve, migrate, create-admin, seed-demo, invite,
import-legacy, and the operator's commands (backup, restore, audit, cache, db)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import secrets
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import asyncpg

from cli.announce import keep_demo_logins, open_line, say
from cli.fatal import (
    BEHIND,
    CONFIG,
    INTERRUPTED,
    Fatal,
    address_problem,
    check_address_free,
    probe_redis,
    run_probe,
)
from cli.logs import configure_logging
from cli.ops import add_ops_commands
from db.pool import create_pool
from server.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:  # aiohttp is imported by `serve` only (the other commands start faster)
    from aiohttp import web

log = logging.getLogger("formula_pm.cli")

DESCRIPTION = """Formula PM: the real-time project-management backend.

Settings come from the environment (DATABASE_URL, REDIS_URL, JWT_SECRET, HOST, PORT,
DATA_DIR, CORS_ORIGINS, TRUSTED_PROXIES, LOG_LEVEL; the README lists them all). With no
DATABASE_URL an embedded PostgreSQL is started in DATA_DIR."""


def upgrade(database_url: str) -> None:
    """Migrate to head (alembic is imported only by the commands that migrate: the
    operator's commands start faster without it)."""
    from db.migrate import upgrade as run

    run(database_url)


def resolve_database(settings: Settings) -> Settings:
    """Use DATABASE_URL (after one connection proves it works), or start the embedded
    PostgreSQL and create its database."""
    if settings.database_url:
        run_probe(settings.database_url)
        return settings
    from cli.embedded import ensure_database, start_embedded

    admin_dsn = start_embedded(settings.data_dir)
    dsn = asyncio.run(ensure_database(admin_dsn))
    return settings.with_database(dsn, embedded=True)


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from aiohttp import web

    from cli.malloc import tune_malloc
    from server.app import create_app
    from server.collector import freeze_startup_heap, tune_collector
    from server.http import HANDLER_ARGS

    tuned = tune_malloc()  # once per worker process, before its heap grows
    collector = tune_collector()
    settings = settings.model_copy(update={"host": args.host or settings.host,
                                           "port": args.port or settings.port})
    check_address_free(settings.host, settings.port)
    if settings.redis_url:
        probe_redis(settings.redis_url)
    settings = resolve_database(settings)
    # Logged only now: a start that cannot work prints its one line and nothing else.
    if tuned:
        log.info("malloc settings pinned", extra={"malloc": tuned})
    upgrade(settings.database_url or "")
    if settings.embedded:
        result = asyncio.run(_seed(settings, projects=8, password=None))
        if result["created"]:
            keep_demo_logins(settings, result)
    log.info("listening", extra={"host": settings.host, "port": settings.port,
                                 "embedded_db": settings.embedded,
                                 "redis": bool(settings.redis_url),
                                 "event_loop": settings.event_loop})
    app = create_app(settings)

    async def freeze(_: web.Application) -> None:  # after every other start-up step
        log.info("start-up heap frozen", extra={"gc_thresholds": collector,
                                                "gc_frozen": freeze_startup_heap()})

    app.on_startup.append(freeze)
    lifetime = Lifetime()
    app.on_shutdown.insert(0, lifetime.stopping)
    if settings.event_loop == "uvloop":
        import uvloop

        # run_app makes its loop through the policy (Python 3.11: the policy API is current).
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        web.run_app(
            app, host=settings.host, port=settings.port, access_log=None,
            # Called once the socket listens: our line instead of aiohttp's banner.
            print=lambda _banner: say(open_line(settings)),
            max_line_size=HANDLER_ARGS["max_line_size"],
            max_field_size=HANDLER_ARGS["max_field_size"],
            shutdown_timeout=5,
        )
    except OSError as exc:  # taken between the check above and now
        raise address_problem(exc, settings.host, settings.port) from None
    lifetime.log_shutdown()
    return 0


class Lifetime:
    """When the worker started serving and began stopping, for its `shutdown` log line."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.stop_began: float | None = None

    async def stopping(self, _: web.Application) -> None:
        self.stop_began = time.monotonic()

    def log_shutdown(self) -> None:
        now = time.monotonic()
        stop = None if self.stop_began is None else round(now - self.stop_began, 3)
        log.info("shutdown", extra={"uptime_s": round(now - self.started, 3),
                                    "stop_s": stop})


async def _seed(settings: Settings, projects: int, password: str | None) -> dict[str, Any]:
    from cli.seed import seed_demo

    pool = await create_pool(settings.database_url or "", min_size=1, max_size=2,
                             command_timeout=600)
    try:
        return await seed_demo(pool, projects=projects,
                               password=password or secrets.token_urlsafe(12))
    finally:
        await pool.close()


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from db import migrate

    settings = resolve_database(settings)
    url = settings.database_url or ""
    try:
        current = asyncio.run(_current_revision(url))
        if args.status:
            return _print_status(migrate.state_of(current))
        target = migrate.resolve_target(args.revision)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    direction, steps = migrate.move_to(url, current, target)
    if direction == "none":
        print(f"database already at {current or 'base'}; nothing to do")
        return 0
    verb = "applied" if direction == "up" else "undid"
    for revision in steps:
        print(f"{verb} {migrate.describe(revision)}")
    print(f"database {'upgraded' if direction == 'up' else 'downgraded'} from "
          f"{current or 'base'} to {target or 'base'}")
    return 0


async def _current_revision(url: str) -> str | None:
    from db.admin_sql import current_revision

    conn = await asyncpg.connect(url)
    try:
        return await current_revision(conn)
    finally:
        await conn.close()


def _print_status(state: Any) -> int:
    from db.migrate import describe

    print(f"current revision: {state.current or 'none (empty database)'}")
    print(f"head revision:    {state.head}")
    if state.at_head:
        print("pending:          none (at head)")
        return 0
    print(f"pending:          {len(state.pending)}")
    for revision in state.pending:
        print(f"  {describe(revision)}")
    return BEHIND


def cmd_roles_sql(settings: Settings, args: argparse.Namespace) -> int:
    import urllib.parse

    from db.admin_sql import roles_script

    parts = urllib.parse.urlsplit(settings.database_url or "")
    login = args.login or parts.username
    database = args.database or parts.path.lstrip("/") or "formula_pm"
    if not login:
        raise ConfigError("name the service's login: --login NAME (or set DATABASE_URL)")
    print(roles_script(login, database), end="")
    return 0


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    from cli.preflight import FAIL, run_checks

    checks = asyncio.run(run_checks(settings))
    if args.json:
        print(json.dumps({"ok": all(c.status != FAIL for c in checks),
                          "checks": [c.as_json() for c in checks]}, indent=2))
    else:
        for check in checks:
            print(check.line())
    return 1 if any(c.status == FAIL for c in checks) else 0


def cmd_seed_demo(settings: Settings, args: argparse.Namespace) -> int:
    settings = resolve_database(settings)
    upgrade(settings.database_url or "")
    result = asyncio.run(_seed(settings, projects=args.projects, password=args.password))
    if not result["created"]:
        print("the demo organisation already exists; nothing loaded")
        return 0
    _print({k: v for k, v in result.items() if k != "created"})
    return 0


def cmd_create_admin(settings: Settings, args: argparse.Namespace) -> int:
    from cli.admin import create_admin

    settings = resolve_database(settings)
    upgrade(settings.database_url or "")
    user_id = asyncio.run(create_admin(
        settings, org_slug=args.org, org_name=args.org_name, email=args.email,
        password=args.password, first_name=args.first_name, last_name=args.last_name,
    ))
    print(user_id)
    return 0


def cmd_invite(settings: Settings, args: argparse.Namespace) -> int:
    from cli.admin import invite_user

    settings = resolve_database(settings)
    link = asyncio.run(invite_user(settings, org_slug=args.org, email=args.email))
    print(link)
    return 0


def cmd_import_legacy(settings: Settings, args: argparse.Namespace) -> int:
    from importer.cli import run_import

    settings = resolve_database(settings)
    upgrade(settings.database_url or "")
    return run_import(settings, args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="formula-pm", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run one worker (REST + Socket.IO)",
                           description="Run one worker serving the REST API and the Socket.IO "
                           "hub. Several workers = several `serve` processes sharing "
                           "DATABASE_URL and REDIS_URL. Migrates the database first (safe "
                           "with several workers starting at once).")
    serve.add_argument("--host", help="address to bind (default HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default PORT or 5014)")
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="bring the database to the newest schema",
                             description="Apply the Alembic migrations to DATABASE_URL, "
                             "or move it up or down to --revision; prints what it did. "
                             "Needs no JWT_SECRET.")
    migrate.add_argument("--revision", default="head",
                         help="target revision, up or down (default head; 'base' undoes all)")
    migrate.add_argument("--status", action="store_true",
                         help="print the current and pending revisions; exit 0 at head, "
                         "3 when behind")
    migrate.set_defaults(func=cmd_migrate, signs_tokens=False)

    check = sub.add_parser(
        "check", help="preflight: can this configuration run? (changes nothing)",
        description="Check, one line each (ok / warn / fail, and the fix): the database is "
        "reachable, TLS in use and verified, the server version, the roles and their "
        "attributes, the extensions, the migration state, Redis (with its credentials), "
        "SMTP when configured, DATA_DIR writable, JWT_SECRET set. Exits 1 when a check "
        "fails.")
    check.add_argument("--json", action="store_true", help="one JSON document for machines")
    check.set_defaults(func=cmd_check, signs_tokens=False)

    roles = sub.add_parser(
        "roles-sql", help="print the SQL a DBA runs to create the service's roles",
        description="Print the SQL that creates the two roles of the service (no login, no "
        "SUPERUSER, no BYPASSRLS), grants them to the service's login and creates its "
        "database. Once a DBA has run it, `migrate` needs no role privilege at all. Connects "
        "to nothing; needs no JWT_SECRET.")
    roles.add_argument("--login", help="the service's login (default: DATABASE_URL's user)")
    roles.add_argument("--database",
                       help="the service database (default: DATABASE_URL's, or formula_pm)")
    roles.set_defaults(func=cmd_roles_sql, signs_tokens=False)

    admin = sub.add_parser("create-admin", help="create an organisation's admin",
                           description="Create the organisation SLUG if it is missing, and "
                           "an admin user in it. Prints the new user's id.")
    admin.add_argument("--org", required=True, help="organisation slug (a-z, 0-9, -)")
    admin.add_argument("--org-name", help="organisation name (default: the slug)")
    admin.add_argument("--email", required=True)
    admin.add_argument("--password", required=True, help="at least 10 characters")
    admin.add_argument("--first-name", default="Admin")
    admin.add_argument("--last-name", default="User")
    admin.set_defaults(func=cmd_create_admin)

    seed = sub.add_parser("seed-demo", help="load the generated demo organisation",
                          description="Load a deterministic demo fit-out firm (users in every "
                          "role, clients, projects with scope, tasks, drawings and specs).")
    seed.add_argument("--projects", type=int, default=8, help="number of projects (default 8)")
    seed.add_argument("--password", help="password of every demo user (default: random, "
                      "printed)")
    seed.set_defaults(func=cmd_seed_demo)

    invite = sub.add_parser("invite", help="issue an invitation (set-password) token",
                            description="Issue a one-time set-password token for an existing "
                            "user and mail it (or print it when no SMTP_URL is set).")
    invite.add_argument("--org", required=True, help="organisation slug")
    invite.add_argument("--email", required=True)
    invite.set_defaults(func=cmd_invite)

    legacy = sub.add_parser("import-legacy", help="import the first system's JSON export",
                            description="Import the first system's JSON files (any subset of "
                            "clients, teamMembers, projects, scopeItems, tasks, shopDrawings, "
                            "materialSpecifications .json) into an organisation, in one "
                            "transaction. Running it again changes only what changed.")
    legacy.add_argument("directory", metavar="DIR", help="folder holding the .json files")
    legacy.add_argument("--org", required=True, help="organisation slug (must exist)")
    legacy.add_argument("--as", dest="as_email", metavar="EMAIL",
                        help="admin the import is audited as (default: the first admin)")
    legacy.add_argument("--dry-run", action="store_true", help="plan and report; write nothing")
    legacy.add_argument("--report", metavar="FILE",
                        help="write the full report (FILE.md: Markdown, otherwise JSON)")
    legacy.set_defaults(func=cmd_import_legacy)
    add_ops_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(require_secret=getattr(args, "signs_tokens", True))
    except ConfigError as exc:
        print(f"formula-pm: configuration error: {exc}", file=sys.stderr)
        return CONFIG
    configure_logging(settings.log_level)
    try:
        result: int = args.func(settings, args)
        return result
    except ConfigError as exc:
        print(f"formula-pm: {exc}", file=sys.stderr)
        return CONFIG
    except Fatal as exc:
        print(f"formula-pm: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:  # Ctrl-C before the server runs (it handles its own)
        print("formula-pm: interrupted", file=sys.stderr)
        return INTERRUPTED
