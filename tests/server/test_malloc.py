"""cli/malloc.py: the glibc settings a worker pins at start."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from cli.malloc import DEFAULTS, settings

ALL = {name: value for name, (_, value) in DEFAULTS.items()}


def test_defaults_and_what_the_environment_leaves_to_glibc() -> None:
    assert settings({}) == ALL
    assert settings({"MALLOC_TRIM_THRESHOLD_": "4194304"}) == {
        k: v for k, v in ALL.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    assert settings({"FPM_MALLOC_TUNING": "off"}) == {}
    assert settings({"FPM_MALLOC_TUNING": "on"}) == ALL


def _applied_in_child(env: dict[str, str]) -> dict[str, int]:
    code = "import json; from cli.malloc import tune_malloc; print(json.dumps(tune_malloc()))"
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("MALLOC_") and k != "FPM_MALLOC_TUNING"}
    out = subprocess.run([sys.executable, "-c", code], env={**base, **env}, check=True,
                         capture_output=True, text=True).stdout
    return dict(json.loads(out))


def test_mallopt_accepts_every_setting_in_a_fresh_process() -> None:
    assert _applied_in_child({}) == ALL  # the test machine runs glibc (Debian)
    assert _applied_in_child({"MALLOC_MMAP_THRESHOLD_": "262144"}) == {
        k: v for k, v in ALL.items() if k != "MALLOC_MMAP_THRESHOLD_"}
    assert _applied_in_child({"FPM_MALLOC_TUNING": "off"}) == {}
