"""Python's cyclic garbage collector, set for a worker that holds thousands of sockets.

A full (oldest-generation) collection walks every container object the collector tracks
and stops the event loop while it does. In the latency bench (bench/realtime_latency.py:
two workers of 500 sockets each, 200 writes/s) left alone they paused each worker for
57-103 ms every 10-15 s: 213k tracked objects, 133k of them the modules, routes, schema
and pools built at start, which live as long as the process. Those pauses were the
largest share of the commit-to-client tail (BENCHMARKS.md). Two settings, applied by
``serve``:

- ``freeze_startup_heap``, once the app has started: what exists then is moved out of the
  collector's reach (``gc.freeze``); full collections walk only what came later (pauses
  18-54 ms in the same bench).
- ``tune_collector``: the youngest generation is collected after FIRST_THRESHOLD net
  allocations instead of Python's 700, so most of a request's objects are gone before a
  collection would promote them, and full collections become rare (none in a measured
  25 s window, against 2-3 per worker).

``FPM_GC_TUNING=off`` leaves the collector as Python sets it (read as the settings read it:
server/config.py's ``ProcessTuning``).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping

from server.config import load_tuning

FIRST_THRESHOLD = 10_000


def enabled(env: Mapping[str, str]) -> bool:
    return load_tuning(env).gc_tuning


def thresholds(env: Mapping[str, str]) -> tuple[int, int, int] | None:
    """The thresholds ``tune_collector`` sets, given the environment (None: Python's)."""
    if not enabled(env):
        return None
    _, second, third = gc.get_threshold()
    return (FIRST_THRESHOLD, second, third)


def tune_collector(env: Mapping[str, str] | None = None) -> tuple[int, int, int] | None:
    """Set the thresholds; returns what was set (None when tuning is off)."""
    wanted = thresholds(os.environ if env is None else env)
    if wanted is not None:
        gc.set_threshold(*wanted)
    return wanted


def freeze_startup_heap(env: Mapping[str, str] | None = None) -> int:
    """Collect once, then move every tracked object out of later collections' reach;
    returns how many were moved (0 when tuning is off)."""
    if not enabled(os.environ if env is None else env):
        return 0
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def metrics() -> dict[str, float]:
    """Collections per generation so far and the objects frozen, for /metrics."""
    values = {f'fpm_gc_collections_total{{generation="{n}"}}': float(stats["collections"])
              for n, stats in enumerate(gc.get_stats())}
    values["fpm_gc_frozen_objects"] = float(gc.get_freeze_count())
    return values
