"""glibc malloc thresholds pinned at worker start, so RSS does not creep under churn.

Left alone, glibc raises its mmap threshold (and the trim threshold with it) each time a
large mmapped block is freed, up to 32 MiB; under the soak's load (bench/soak.py) the heap
then grew by freed memory it kept, and RSS by 11-13 % in 10 minutes. ``tune_malloc`` pins
both thresholds. (Limiting arenas as well, ``MALLOC_ARENA_MAX``, made no difference there.)
A setting whose glibc variable is in the environment (``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_TRIM_THRESHOLD_``) was applied by glibc at start and is left alone;
``FPM_MALLOC_TUNING=off`` leaves both to glibc (read as the settings read it:
server/config.py's ``ProcessTuning``). Not glibc: nothing is done.
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Mapping

from server.config import load_tuning

log = logging.getLogger("formula_pm.malloc")

# mallopt parameters from glibc's <malloc.h>, by the variable glibc reads for each.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
DEFAULTS: dict[str, tuple[int, int]] = {
    "MALLOC_MMAP_THRESHOLD_": (M_MMAP_THRESHOLD, 128 * 1024),
    "MALLOC_TRIM_THRESHOLD_": (M_TRIM_THRESHOLD, 256 * 1024),
}


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 (present only in glibc)
    except (OSError, AttributeError):
        return None
    return libc


def settings(env: Mapping[str, str]) -> dict[str, int]:
    """What ``tune_malloc`` sets, given the environment: {glibc variable: value}."""
    if not load_tuning(env).malloc_tuning:
        return {}
    return {name: value for name, (_, value) in DEFAULTS.items() if name not in env}


def tune_malloc(env: Mapping[str, str] | None = None) -> dict[str, int]:
    """Apply the settings with mallopt; returns what was applied ({} when not glibc)."""
    libc = _glibc()
    if libc is None:
        return {}
    applied: dict[str, int] = {}
    for name, value in settings(os.environ if env is None else env).items():
        if libc.mallopt(ctypes.c_int(DEFAULTS[name][0]), ctypes.c_int(value)) == 1:
            applied[name] = value
        else:
            log.warning("mallopt refused %s=%d", name, value)
    return applied
