"""server/collector.py: the garbage-collector settings a worker applies at start."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys

from server.collector import FIRST_THRESHOLD, metrics, thresholds

CHILD = """
import gc, json
from server.collector import freeze_startup_heap, tune_collector
before = gc.get_threshold()
set_to = tune_collector()
frozen = freeze_startup_heap()
print(json.dumps({"before": before, "set": set_to, "after": gc.get_threshold(),
                  "frozen": frozen, "freeze_count": gc.get_freeze_count()}))
"""


def _in_child(env: dict[str, str]) -> dict[str, object]:
    base = {k: v for k, v in os.environ.items() if k != "FPM_GC_TUNING"}
    out = subprocess.run([sys.executable, "-c", CHILD], env={**base, **env}, check=True,
                         capture_output=True, text=True).stdout
    return dict(json.loads(out))


def test_thresholds_raise_only_the_youngest_generation() -> None:
    _, second, third = gc.get_threshold()
    assert thresholds({}) == (FIRST_THRESHOLD, second, third)
    assert thresholds({"FPM_GC_TUNING": "on"}) == (FIRST_THRESHOLD, second, third)
    for off in ("off", "0", "false", "NO"):
        assert thresholds({"FPM_GC_TUNING": off}) is None


def test_a_fresh_process_is_tuned_and_its_heap_frozen() -> None:
    tuned = _in_child({})
    assert tuned["after"] == tuned["set"] == [FIRST_THRESHOLD, *tuned["before"][1:]]
    assert tuned["frozen"] == tuned["freeze_count"]
    assert isinstance(tuned["frozen"], int) and tuned["frozen"] > 1000  # the imports


def test_off_leaves_the_collector_alone() -> None:
    untouched = _in_child({"FPM_GC_TUNING": "off"})
    assert untouched["set"] is None
    assert untouched["after"] == untouched["before"]
    assert untouched["frozen"] == untouched["freeze_count"] == 0


def test_metrics_name_every_generation() -> None:
    values = metrics()
    assert set(values) == {'fpm_gc_collections_total{generation="0"}',
                           'fpm_gc_collections_total{generation="1"}',
                           'fpm_gc_collections_total{generation="2"}',
                           "fpm_gc_frozen_objects"}
    assert all(v >= 0 for v in values.values())
