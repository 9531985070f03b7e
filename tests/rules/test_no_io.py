"""`rules/` is pure: its modules import only each other and standard-library modules that do
no I/O, and call no built-in that reads, writes or runs code."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"
MODULES = sorted(RULES.rglob("*.py"))
# Standard-library modules without I/O (no files, sockets, processes, clocks read here).
PURE_STDLIB = frozenset({
    "__future__", "abc", "collections", "collections.abc", "dataclasses", "datetime",
    "decimal", "enum", "functools", "hashlib", "itertools", "json", "math", "operator", "re",
    "string",
    "types", "typing", "unicodedata", "uuid",
})
IO_BUILTINS = frozenset({"open", "input", "print", "breakpoint", "exec", "eval", "compile",
                         "__import__"})


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module the file imports, at any depth (relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module_name(path) if path.name == "__init__.py" else \
        _module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                found.add(f"{base}.{node.module}" if node.module else base)
            else:
                found.add(node.module or "")
    return found


def test_the_walk_finds_the_modules() -> None:
    names = {_module_name(p) for p in MODULES}
    assert {"rules", "rules.enums", "rules.errors", "rules.permissions", "rules.tasks",
            "rules.mentions", "rules.workflows.machine", "rules.workflows.drawings",
            "rules.workflows.specs", "rules.workflows.notices"} <= names
    assert "rules.enums" in _imports(RULES / "permissions.py")


@pytest.mark.parametrize("path", MODULES, ids=_module_name)
def test_imports_only_rules_and_pure_stdlib(path: Path) -> None:
    bad = {name for name in _imports(path)
           if name not in PURE_STDLIB and name != "rules" and not name.startswith("rules.")}
    assert not bad, f"{_module_name(path)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", MODULES, ids=_module_name)
def test_calls_no_io_builtin(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert not used & IO_BUILTINS, f"{_module_name(path)} uses {sorted(used & IO_BUILTINS)}"


def test_importing_every_rule_loads_only_the_standard_library() -> None:
    """What actually gets loaded, transitively: nothing of ours outside rules/, no package
    from site-packages."""
    names = sorted(_module_name(p) for p in MODULES)
    script = ("import sys\n" + "".join(f"import {n}\n" for n in names)
              + "print('\\n'.join(sorted(sys.modules)))")
    # -S: no site-packages at all; -c puts the working directory (the repository) first.
    done = subprocess.run([sys.executable, "-S", "-E", "-c", script], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr  # e.g. a package from site-packages
    loaded = done.stdout.split()
    allowed = sys.stdlib_module_names | {"__main__", "rules"}
    foreign = [m for m in loaded if m.partition(".")[0] not in allowed]
    assert not foreign, foreign
