"""What a rule raises when it says no. The server answers each kind as its RFC 9457 problem
(`server.errors.rule_problem`): NotPermitted 403, WrongState 409, InvalidInput 422."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class RuleError(Exception):
    """A refusal: what to tell (`detail`), a machine-readable `code` (None: the kind's
    default), the fields at fault (`errors`) and extension members (`extra`)."""

    def __init__(self, detail: str, *, code: str | None = None,
                 errors: Sequence[Mapping[str, str]] = (),
                 extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.errors = [dict(e) for e in errors]
        self.extra = dict(extra or {})


class NotPermitted(RuleError):
    """The role may not do this, whatever the record's state."""


class WrongState(RuleError):
    """The record's state does not allow this now."""


class InvalidInput(RuleError):
    """The request names something the rule does not know, or leaves out what it needs."""
