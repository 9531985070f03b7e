"""The server's side of `rules.permissions`: `require` answers 403 for a missing permission.

Role, Perm and the table live in `rules.permissions`; they are named here too so that a
route imports what it checks from one place.
"""

from __future__ import annotations

from rules.permissions import Perm, Role, can
from server.errors import Forbidden

__all__ = ["Perm", "Role", "require"]


def require(role: str, perm: Perm) -> None:
    """Raise 403 unless `role` holds `perm` (checked before any state, so 403 beats 409)."""
    if not can(role, perm):
        raise Forbidden(f"Your role may not {perm.value.replace('_', ' ')}",
                        code="insufficient_permissions")
