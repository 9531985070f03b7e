"""Run the Alembic migrations from code (used by the CLI, the server and the tests)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

_HERE = Path(__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    config = Config(str(_HERE / "alembic.ini"))
    config.set_main_option("script_location", str(_HERE / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database to `revision`; safe to call from several processes at once."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str, revision: str = "head") -> None:
    """Alembic drives its own event loop, so run it in a thread when called from async code."""
    await asyncio.to_thread(upgrade, database_url, revision)


# --- where a database stands, and moving it ------------------------------------------------

def revisions() -> list[str]:
    """Every revision id, oldest first (the chain is linear)."""
    script = ScriptDirectory.from_config(alembic_config("postgresql://unused/"))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def describe(revision: str) -> str:
    """`0013 audit bulk flag`: the id and the first line of the migration's docstring."""
    script = ScriptDirectory.from_config(alembic_config("postgresql://unused/"))
    found = script.get_revision(revision)
    doc = (found.doc or "").strip().splitlines() if found is not None else []
    return f"{revision} {doc[0]}" if doc else revision


@dataclass(frozen=True)
class MigrationState:
    current: str | None  # None: nothing applied yet
    head: str
    pending: tuple[str, ...]

    @property
    def at_head(self) -> bool:
        return not self.pending


def state_of(current: str | None) -> MigrationState:
    chain = revisions()
    if current is not None and current not in chain:
        raise ValueError(f"the database is at revision {current!r}, which this version of "
                         "formula-pm does not know (a newer release migrated it?)")
    done = 0 if current is None else chain.index(current) + 1
    return MigrationState(current, chain[-1], tuple(chain[done:]))


def resolve_target(target: str) -> str | None:
    """A revision id, `head`, or `base` (None: nothing applied)."""
    chain = revisions()
    if target == "head":
        return chain[-1]
    if target == "base":
        return None
    if target not in chain:
        raise ValueError(f"unknown revision {target!r} (known: {', '.join(chain)}, head, base)")
    return target


def steps_between(current: str | None, target: str | None) -> tuple[str, list[str]]:
    """('up' | 'down' | 'none', the revisions applied or undone, in the order it happens)."""
    chain = revisions()
    at = 0 if current is None else chain.index(current) + 1
    to = 0 if target is None else chain.index(target) + 1
    if to > at:
        return "up", chain[at:to]
    if to < at:
        return "down", list(reversed(chain[to:at]))
    return "none", []


def move_to(database_url: str, current: str | None, target: str | None) -> tuple[str, list[str]]:
    """Upgrade or downgrade the database from `current` to `target`; what was done."""
    direction, steps = steps_between(current, target)
    if direction == "up":
        upgrade(database_url, target or "base")
    elif direction == "down":
        downgrade(database_url, target or "base")
    return direction, steps
