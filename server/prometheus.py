"""The app's Prometheus metrics: one registry per app, the request middleware that feeds
its histogram, and the collector that reads every `METRICS` source at scrape time.

Each app has its own `CollectorRegistry`, never the library's global one: tests build
many apps in one process, and a second app would otherwise be refused its metrics (or
report the first one's)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from server.http import SOCKETIO_PATH, Observer
from server.keys import CACHE, MetricsSource

_STARTED = time.time()

# What each metric of a `METRICS` source means (the HELP line of /metrics).
HELP = {
    "fpm_uptime_seconds": "Seconds since this worker process started",
    "fpm_cache_hits_total": "Cache reads answered from the cache",
    "fpm_cache_misses_total": "Cache reads that found nothing",
    "fpm_cache_errors_total": "Cache operations that failed (the read went to PostgreSQL)",
    "fpm_cache_hit_ratio": "Hits over hits and misses so far",
    "fpm_cache_up": "1 while the cache backend answers, 0 while degraded",
    "fpm_gc_collections_total": "Garbage collections so far, by generation",
    "fpm_gc_frozen_objects": "Objects moved out of the collector's reach at start-up",
    "fpm_realtime_sockets": "Socket.IO clients connected to this worker",
    "fpm_realtime_packets_dropped_total": "Socket.IO packets refused (malformed or too large)",
    "fpm_realtime_unconnected_closed_total": "Engine.IO sessions closed before they connected",
    "fpm_realtime_events_emitted_total": "Events this worker sent to its sockets",
    "fpm_realtime_sockets_dropped_slow_total": "Sockets dropped for not reading their events",
    "fpm_realtime_admission_waits_total": "Connections that waited for an admission slot",
    "fpm_realtime_leader": "1 while this worker is the change leader",
    "fpm_realtime_delivery_lag_seconds_last": "Commit-to-emit delay of the last batch",
    "fpm_realtime_rows_failed_total": "Audit rows the feed could not turn into events",
    "fpm_realtime_resync_rows_failed_total": "Audit rows a resync could not turn into events",
    "fpm_thumbnail_queue_depth": "Thumbnail jobs waiting in this worker's queue",
    "fpm_thumbnail_jobs_refused_total": "Thumbnail jobs refused by a full queue (the sweep "
                                        "offers them again)",
    "fpm_export_jobs_running": "Background export jobs this worker runs now",
    "fpm_export_jobs_done_total": "Background export jobs this worker finished",
    "fpm_export_jobs_failed_total": "Background export jobs this worker ended as failed",
    "fpm_export_jobs_lost_total": "Background export jobs another worker took over from this "
                                  "one (it was silent too long)",
    "fpm_audit_chain_linked_total": "Audit rows this worker's change leader linked into the "
                                    "hash chain",
}

# Seconds; REST answers are mostly sub-millisecond (cached) to tens of milliseconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0)
# Seconds from an audit row's commit to its event leaving the leader.
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
               10.0, 30.0)
# Label values a client cannot multiply: other methods are "other", unrouted paths "none".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNROUTED = "none"

_NAME = re.compile(r"^(?P<base>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"')


@dataclass(frozen=True)
class AppMetrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    delivery_lag: Histogram
    auth_failures: Counter


PROMETHEUS = web.AppKey("prometheus", AppMetrics)


def app_metrics(sources: list[MetricsSource]) -> AppMetrics:
    """A fresh registry with the request metrics, the delivery-lag histogram and a
    collector that reads `sources` (the list may grow after this call)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SourcesCollector(sources))
    metrics = AppMetrics(
        registry=registry,
        requests=Counter("fpm_http_requests_total", "HTTP requests answered, by status class",
                         ["status"], registry=registry),
        latency=Histogram("fpm_http_request_duration_seconds",
                          "Time to answer a request, by method, route pattern and status class",
                          ["method", "route", "status"], buckets=LATENCY_BUCKETS,
                          registry=registry),
        delivery_lag=Histogram("fpm_realtime_delivery_lag_seconds",
                               "Commit-to-emit delay of each event the change leader sent",
                               buckets=LAG_BUCKETS, registry=registry),
        auth_failures=Counter("fpm_auth_failures_total",
                              "Authentication failures, by reason (see AUTH_FAILURES)",
                              ["reason"], registry=registry),
    )
    for reason in AUTH_FAILURES:  # every series from the start, at 0 (rate() needs one)
        metrics.auth_failures.labels(reason)
    return metrics


# The reasons of fpm_auth_failures_total (a closed set: no label a client can multiply).
AUTH_FAILURES = (
    "invalid_credentials",  # wrong e-mail or password, or a deactivated account
    "throttled_address",  # refused: too many failures from one address (all accounts)
    "throttled_account",  # refused: too many failures for one account (from one address,
    # or from everywhere)
    "token_reuse",  # a rotated refresh token presented again: the session was revoked
    "wrong_current_password",  # a password change with the wrong current password
)


def count_auth_failure(app: web.Application, reason: str) -> None:
    """Count one authentication failure (`reason` one of AUTH_FAILURES)."""
    metrics = app.get(PROMETHEUS)
    if metrics is not None and reason in AUTH_FAILURES:
        metrics.auth_failures.labels(reason).inc()


def uptime() -> dict[str, float]:
    return {"fpm_uptime_seconds": time.time() - _STARTED}


def cache_source(app: web.Application) -> MetricsSource:
    """The counters of the app's cache (which exists only once the app has started)."""
    def values() -> dict[str, float]:
        stats = app[CACHE].stats()
        return {
            "fpm_cache_hits_total": stats["hits"],
            "fpm_cache_misses_total": stats["misses"],
            "fpm_cache_errors_total": stats["errors"],
            "fpm_cache_hit_ratio": stats["hit_rate"],
            "fpm_cache_up": 1.0 if stats["status"] == "healthy" else 0.0,
        }
    return values


class SourcesCollector(Collector):
    """Turns the {name: value} of each source into metric families at scrape time.

    A name may carry labels (`fpm_gc_collections_total{generation="0"}`); names ending
    in `_total` are counters, the others gauges; a name that is not a metric name is
    left out rather than break the whole answer."""

    def __init__(self, sources: list[MetricsSource]) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        for source in self.sources:
            for name, value in source().items():
                found = _NAME.match(name)
                if found:
                    labels = dict(_LABEL.findall(found["labels"] or ""))
                    samples.setdefault(found["base"], []).append((labels, float(value)))
        for base, values in sorted(samples.items()):
            yield _family(base, values)


def _family(base: str, values: list[tuple[dict[str, str], float]]) -> Metric:
    names = sorted(values[0][0])
    kind = CounterMetricFamily if base.endswith("_total") else GaugeMetricFamily
    family = kind(base, HELP.get(base, base), labels=names)
    for labels, value in values:
        family.add_metric([labels.get(n, "") for n in names], value)
    return family


def route_label(request: web.Request) -> str:
    """The route pattern (`/api/v1/tasks/{id}`), never the raw path."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNROUTED


def request_observer(metrics: AppMetrics) -> Observer:
    """Counts every answer by status class and times it (see `answered_middleware`)."""

    def observe(request: web.Request, status: int, elapsed: float) -> None:
        group = f"{status // 100}xx"
        metrics.requests.labels(group).inc()
        # A Socket.IO request lasts a long poll or a whole connection: not REST latency.
        if request.path != SOCKETIO_PATH:
            method = request.method if request.method in METHODS else "other"
            metrics.latency.labels(method, route_label(request), group).observe(elapsed)

    return observe
