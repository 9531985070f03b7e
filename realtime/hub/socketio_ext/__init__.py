"""Everything that reaches into python-socketio / python-engineio internals, and nothing else.

The hub uses the libraries through their public API except here: the server subclass that
checks a client's packets before dispatch (`protocol`), the client managers that carry
internal messages between workers (`bus`), the fast broadcast path (`fast_emit`) and the
JSON codec handed to both libraries (`packet_json`). These lean on method names and packet
formats of one pair of releases, pinned in requirements.lock; `versions_supported()` is the
one check of that pin. When it fails the fast path stands aside (stock emits); the other
overrides are exercised by the real-time tests, which run against the pinned releases.
"""

from __future__ import annotations

from importlib.metadata import version

SUPPORTED = {"python-socketio": "5.18.1", "python-engineio": "4.15.1"}


def versions_supported() -> bool:
    """True when the installed Socket.IO libraries are the ones these extensions were built on."""
    return all(version(name) == pinned for name, pinned in SUPPORTED.items())
