"""The user documentation in docs/ keeps up with the code: every problem code the service
returns is in docs/api.md, every socket event and acknowledgement code in docs/realtime.md,
and the documents link only to each other and to the served OpenAPI document."""

from __future__ import annotations

import re
from pathlib import Path

from realtime.hub.limits import MAX_SUBSCRIPTIONS
from realtime.hub.socketio_ext.bus import RESYNC_REQUIRED
from server.validation import MAX_BODY_DEPTH, MAX_FREE_CHARS, MAX_FREE_DEPTH

ROOT = Path(__file__).resolve().parents[1]
API = (ROOT / "docs" / "api.md").read_text()
REALTIME = (ROOT / "docs" / "realtime.md").read_text()
# The defaults of the error classes that are raised without a code of their own.
DEFAULT_CODES = {"validation_failed", "not_found", "stale_version", "payload_too_large",
                 "uri_too_long", "rate_limited", "unavailable", "internal_error",
                 "method_not_allowed"}


def _sources(folder: str) -> str:
    return "\n".join(p.read_text() for p in sorted((ROOT / folder).rglob("*.py")))


def _documented_codes(text: str) -> set[str]:
    return set(re.findall(r"^\| \d{3} \| `([a-z_]+)` \|", text, re.MULTILINE))


def test_every_problem_code_of_the_service_is_documented() -> None:
    raised = set(re.findall(r'\bcode="([a-z_]+)"', _sources("server") + _sources("rules")))
    assert raised, "the pattern no longer finds the codes"
    assert raised | DEFAULT_CODES <= _documented_codes(API)


def test_the_documented_limits_are_the_codes() -> None:
    assert f"at most {MAX_BODY_DEPTH} levels" in API
    assert f"at most {MAX_FREE_DEPTH} levels" in API
    assert f"{MAX_FREE_CHARS // 1024} KiB" in API
    assert f"at most {MAX_SUBSCRIPTIONS} projects" in REALTIME


def test_every_socket_event_and_ack_code_is_documented() -> None:
    code = _sources("realtime")
    failures = set(re.findall(r'failure\("([a-z_]+)"', code))
    failures |= set(re.findall(r'return failure\("([a-z_]+)"', code))
    refusals = set(re.findall(r'ConnectionRefusedError\(\s*"([a-z_]+)"', code))
    emitted = set(re.findall(r'\.emit\("([a-z_]+)"', code)) | {RESYNC_REQUIRED}
    handlers = (ROOT / "realtime" / "hub" / "handlers.py").read_text()
    handled = set(re.findall(r'"([a-z_]+)": self\.\1\b', handlers))
    assert {"subscribe", "unsubscribe", "resync", "typing"} <= handled
    assert failures >= {"invalid", "unauthorized", "rate_limited", "unavailable", "internal",
                        "unknown_event"}
    acks = set(re.findall(r"^\| `([a-z_]+)` \|", REALTIME, re.MULTILINE))
    assert failures | {"forbidden", "not_found"} <= acks
    for name in refusals | emitted | {f"`{h}`" for h in handled}:
        assert name.strip("`") in REALTIME, name
    for reason in re.findall(r'evict\(client, project, "([a-z_]+)"\)', code):
        assert f"`{reason}`" in REALTIME
    assert "data_omitted" in REALTIME and '"bus_reconnected"' in REALTIME


def test_the_documents_link_only_to_what_ships() -> None:
    for text in (API, REALTIME):
        assert "../shared" not in text and "/work/" not in text
        for target in re.findall(r"\]\(([^)#]+)\)", text):
            assert (ROOT / "docs" / target).is_file(), target
        assert "/api/v1/openapi.json" in text and "/api/docs" in text
