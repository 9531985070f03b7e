"""The answers a socket gets through its ack callback when a request cannot be served."""

from __future__ import annotations

from typing import Any

Ack = dict[str, Any]
# How much of a client's event name is repeated in an answer.
NAME_SHOWN = 64


def failure(code: str, message: str | None = None) -> Ack:
    error: dict[str, Any] = {"code": code}
    if message:
        error["message"] = message
    return {"ok": False, "error": error}


def unknown_event(name: str) -> Ack:
    return failure("unknown_event", f"unknown event {name[:NAME_SHOWN]!r}")
