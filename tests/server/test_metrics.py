"""/metrics as Prometheus reads it: every metric named, the request and lag histograms."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from db.pool import transaction
from server.prometheus import app_metrics
from tests.conftest import World, actor_of
from tests.waiting import eventually

Client = TestClient[Any, Any]
LATENCY = "fpm_http_request_duration_seconds"
LAG = "fpm_realtime_delivery_lag_seconds"
# Every metric the README names (and the ones operators' dashboards read).
DOCUMENTED = {
    "fpm_uptime_seconds",
    "fpm_http_requests_total",
    "fpm_cache_hits_total", "fpm_cache_misses_total", "fpm_cache_errors_total",
    "fpm_cache_hit_ratio", "fpm_cache_up",
    "fpm_gc_collections_total", "fpm_gc_frozen_objects",
    "fpm_realtime_sockets", "fpm_realtime_packets_dropped_total",
    "fpm_realtime_unconnected_closed_total", "fpm_realtime_events_emitted_total",
    "fpm_realtime_sockets_dropped_slow_total", "fpm_realtime_admission_waits_total",
    "fpm_realtime_leader",
    "fpm_realtime_delivery_lag_seconds_sum", "fpm_realtime_delivery_lag_seconds_count",
    "fpm_realtime_delivery_lag_seconds_last",
    "fpm_realtime_rows_failed_total", "fpm_realtime_resync_rows_failed_total",
    f"{LATENCY}_bucket", f"{LATENCY}_count", f"{LATENCY}_sum", f"{LAG}_bucket",
}


async def _samples(client: Client) -> list[Sample]:
    response = await client.get("/metrics")
    assert response.status == 200
    families = list(text_string_to_metric_families(await response.text()))
    return [sample for family in families for sample in family.samples]


def _value(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum of `name`'s samples that carry `labels` (0 when there is none)."""
    return sum(s.value for s in samples
               if s.name == name and labels.items() <= s.labels.items())


async def test_every_documented_metric_parses(client: Client) -> None:
    await client.get("/health")
    samples = await _samples(client)
    assert DOCUMENTED <= {s.name for s in samples}
    response = await client.get("/metrics")
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    types = {f.name: f.type for f in text_string_to_metric_families(await response.text())}
    assert types[LATENCY] == types[LAG] == "histogram"
    assert types["fpm_cache_hits"] == types["fpm_http_requests"] == "counter"
    assert types["fpm_realtime_sockets"] == types["fpm_cache_up"] == "gauge"


async def test_request_latency_histogram_counts_each_answer_by_route_pattern(
        client: Client) -> None:
    health = {"method": "GET", "route": "/health", "status": "2xx"}
    before = await _samples(client)
    for _ in range(3):
        assert (await client.get("/health")).status == 200
    task = {"method": "GET", "route": "/api/v1/tasks/{id}", "status": "4xx"}
    for _ in range(2):  # two different paths, one pattern; no token: 401
        assert (await client.get(f"/api/v1/tasks/{uuid.uuid4()}")).status == 401
    after = await _samples(client)
    assert _value(after, f"{LATENCY}_count", **health) == \
        _value(before, f"{LATENCY}_count", **health) + 3
    assert _value(after, f"{LATENCY}_count", **task) == \
        _value(before, f"{LATENCY}_count", **task) + 2
    buckets = [s for s in after if s.name == f"{LATENCY}_bucket"
               and health.items() <= s.labels.items()]
    assert len(buckets) > 10 and buckets[-1].labels["le"] == "+Inf"
    assert buckets[-1].value == _value(after, f"{LATENCY}_count", **health)
    assert _value(after, f"{LATENCY}_sum", **health) > 0
    assert not any(s.labels.get("route", "").startswith("/api/v1/tasks/")
                   and s.labels["route"] != "/api/v1/tasks/{id}" for s in after)


async def test_client_chosen_paths_and_methods_do_not_make_new_series(client: Client) -> None:
    for n, method in enumerate(("PROPFIND", "MKCOL", "PURGE", "LOCK", "REPORT")):
        await client.get(f"/no-such-path-{n}")
        await client.request(method, "/health")
    routes = {(s.labels["method"], s.labels["route"]) for s in await _samples(client)
              if s.name == f"{LATENCY}_count"}
    assert not any(route.startswith("/no-such-path") for _, route in routes)
    assert {method for method, _ in routes} <= {"GET", "HEAD", "POST", "PUT", "PATCH",
                                                "DELETE", "OPTIONS", "other"}
    assert ("GET", "none") in routes and ("other", "none") in routes


async def test_an_api_error_is_counted_and_logged_by_the_status_it_answered(
        client: Client, caplog: pytest.LogCaptureFixture) -> None:
    """A handler's ApiError (here the 401 of a missing token) is a 4xx, not a 5xx."""
    before = await _samples(client)
    with caplog.at_level(logging.INFO, logger="formula_pm.access"):
        answer = await client.get("/api/v1/auth/me")
    assert answer.status == 401
    [line] = [r for r in caplog.records
              if r.name == "formula_pm.access" and "/api/v1/auth/me" in r.getMessage()]
    assert line.status == 401  # type: ignore[attr-defined]
    assert line.request_id == answer.headers["X-Request-ID"]  # type: ignore[attr-defined]
    after = await _samples(client)
    assert _value(after, "fpm_http_requests_total", status="4xx") == \
        _value(before, "fpm_http_requests_total", status="4xx") + 1
    assert _value(after, "fpm_http_requests_total", status="5xx") == \
        _value(before, "fpm_http_requests_total", status="5xx")


async def test_delivery_lag_histogram_grows_with_each_event(
        client: Client, world: World, pool: asyncpg.Pool) -> None:
    org = await world.org()
    admin = await world.user(org, "admin")
    project = await world.project(org)
    await eventually(lambda: _leading(client), limit=10, interval=0.1)
    before = _value(await _samples(client), f"{LAG}_count")
    async with transaction(pool, actor_of(admin)) as conn:
        for name in ("one", "two"):
            await conn.execute("INSERT INTO tasks (org_id, project_id, name) "
                               "VALUES ($1, $2, $3)", org, project, name)

    async def counted() -> float:
        count = _value(await _samples(client), f"{LAG}_count")
        return count if count >= before + 2 else 0

    await eventually(counted, limit=10, interval=0.1)
    samples = await _samples(client)
    infinite = [s for s in samples if s.name == f"{LAG}_bucket" and s.labels["le"] == "+Inf"]
    assert infinite[0].value == _value(samples, f"{LAG}_count")
    assert _value(samples, f"{LAG}_sum") >= 0


async def _leading(client: Client) -> bool:
    return _value(await _samples(client), "fpm_realtime_leader") == 1


def test_each_app_has_its_own_registry() -> None:
    first, second = app_metrics([]), app_metrics([])
    first.requests.labels("2xx").inc()
    assert first.registry.get_sample_value("fpm_http_requests_total", {"status": "2xx"}) == 1
    assert second.registry.get_sample_value("fpm_http_requests_total", {"status": "2xx"}) is None


async def test_authentication_failures_are_counted_by_reason(client: Client,
                                                            world: World) -> None:
    before = await _samples(client)
    assert {s.labels["reason"] for s in before if s.name == "fpm_auth_failures_total"} >= {
        "invalid_credentials", "throttled_address", "throttled_account", "token_reuse"}
    org = await world.org()
    user = await world.user(org, "designer")
    response = await client.post("/api/v1/auth/login", json={
        "email": user["email"], "password": "not the password"})
    assert response.status == 401
    after = await _samples(client)
    assert _value(after, "fpm_auth_failures_total", reason="invalid_credentials") == _value(
        before, "fpm_auth_failures_total", reason="invalid_credentials") + 1
