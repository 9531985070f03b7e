"""SQL lives in db/: no module outside it (the tests, benchmarks and migrations aside) runs a
statement itself; each calls a function of db/ that takes the connection."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Not searched: db/ itself (migrations included), the tests and the benchmarks.
NOT_SEARCHED = {"db", "tests", "bench"}
# asyncpg's ways to run a statement (`prepare` is left out: python-socketio's packets have
# one too). A call counts when it has an argument: a Redis pipeline's `execute()` has none.
SQL_CALLS = {"fetch", "fetchrow", "fetchval", "fetchmany", "execute", "executemany", "cursor",
             "copy_records_to_table", "copy_to_table", "copy_from_table", "copy_from_query"}
# Modules that may still run SQL themselves, each with the reason. Keep it short.
ALLOWED: set[str] = set()


def _modules() -> list[Path]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if parts[0] in NOT_SEARCHED or any(p.startswith(".") or p in ("build", "dist")
                                           for p in parts):
            continue
        found.append(path)
    return found


def sql_calls(source: str) -> list[str]:
    """`line: .method(` of every statement-running call in the source: one that is given a
    statement (positionally or as `query=`; a Redis pipeline's `execute(raise_on_error=…)`
    is not)."""
    calls = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in SQL_CALLS
                and (node.args or any(k.arg == "query" for k in node.keywords))):
            calls.append(f"{node.lineno}: .{node.func.attr}(")
    return calls


def test_the_search_sees_the_packages_and_finds_calls() -> None:
    seen = {p.relative_to(ROOT).parts[0] for p in _modules()}
    assert {"server", "realtime", "importer", "cli", "rules", "storage"} <= seen
    assert sql_calls("async def f(c):\n    await c.fetchval('SELECT 1')\n") == ["2: .fetchval("]
    assert sql_calls("async def f(pipe):\n    await pipe.execute()\n") == []
    assert sql_calls("async def f(p):\n    await p.execute(raise_on_error=False)\n") == []
    assert sql_calls("async def f(c):\n    await c.execute(query='SELECT 1')\n") == [
        "2: .execute("]


def test_no_module_outside_db_runs_sql() -> None:
    offenders = {}
    for path in _modules():
        name = path.relative_to(ROOT).as_posix()
        calls = sql_calls(path.read_text())
        if calls and name not in ALLOWED:
            offenders[name] = calls
    assert not offenders, ("SQL outside db/: move each statement into a function of "
                           f"db/ that takes the connection: {offenders}")


def test_every_allowed_module_still_runs_sql() -> None:
    """An allowance nobody needs any more is a hole in the fence: remove it."""
    for name in ALLOWED:
        path = ROOT / name
        assert path.exists() and sql_calls(path.read_text()), (
            f"{name} runs no SQL (or is gone): remove it from ALLOWED")
