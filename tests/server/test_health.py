"""Health endpoints and the error contract every route shares."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from server.config import Settings


async def test_liveness(client: TestClient[Any, Any]) -> None:
    response = await client.get("/health")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readiness_reports_every_part(client: TestClient[Any, Any]) -> None:
    response = await client.get("/health/ready")
    assert response.status == 200
    body = await response.json()
    assert body["database"]["status"] == "healthy"
    assert body["cache"]["status"] == "healthy"
    assert body["cache"]["backend"] == "redis"
    assert "status" in body["realtime"]
    assert body["timestamp"]


async def test_unknown_route_is_problem_json_with_or_without_token(
    client: TestClient[Any, Any],
) -> None:
    for headers in ({}, {"Authorization": "Bearer nonsense"}):
        response = await client.get("/api/v1/nothing-here", headers=headers)
        assert response.status == 404
        assert response.content_type == "application/problem+json"
        body = await response.json()
        assert body["status"] == 404 and body["code"] == "not_found"
        assert body["request_id"] == response.headers["X-Request-ID"]


async def test_request_id_is_echoed(client: TestClient[Any, Any]) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"


async def test_protected_route_without_token_is_401(client: TestClient[Any, Any]) -> None:
    response = await client.get("/api/v1/auth/me")
    assert response.status in (401, 404)


async def test_security_headers(client: TestClient[Any, Any]) -> None:
    response = await client.get("/health")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


async def test_bad_json_is_400_problem_json(client: TestClient[Any, Any]) -> None:
    for body in (b"{bad", b"\xff\xfe", b"", b"[1, 2]"):
        response = await client.post("/api/v1/auth/login", data=body,
                                      headers={"Content-Type": "application/json"})
        assert response.status in (400, 422), body
        assert response.content_type == "application/problem+json"


async def test_oversized_body_is_413(client: TestClient[Any, Any]) -> None:
    response = await client.post("/api/v1/auth/login", data=b"x" * (2 * 1024 * 1024),
                                 headers={"Content-Type": "application/json"})
    assert response.status == 413
    assert response.content_type == "application/problem+json"


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:

    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    from server.auth.identity import client_ip
    from server.config import load_settings
    from server.keys import SETTINGS

    def ip(remote: str, forwarded: str, proxies: str) -> str | None:
        app = web.Application()
        settings = load_settings({"JWT_SECRET": "s" * 40, "TRUSTED_PROXIES": proxies,
                                  "DATA_DIR": "unused"})
        app[SETTINGS] = settings.model_copy()
        request = make_mocked_request("GET", "/", headers={"X-Forwarded-For": forwarded},
                                      app=app, transport=_Transport(remote))
        return client_ip(request)

    assert ip("10.0.0.5", "203.0.113.9", "") == "10.0.0.5"
    assert ip("10.0.0.5", "203.0.113.9", "10.0.0.0/8") == "203.0.113.9"
    assert ip("10.0.0.5", "198.51.100.1, 203.0.113.9, 10.0.0.7", "10.0.0.0/8") == "203.0.113.9"
    assert ip("192.0.2.1", "203.0.113.9", "10.0.0.0/8") == "192.0.2.1"
    # Bound to "::", an IPv4 peer or hop shows as IPv4-mapped IPv6: still the same address.
    assert ip("::ffff:10.0.0.5", "203.0.113.9", "10.0.0.0/8") == "203.0.113.9"
    assert ip("10.0.0.5", "203.0.113.9, ::ffff:10.0.0.7", "10.0.0.0/8") == "203.0.113.9"
    untrusted = ip("::ffff:192.0.2.1", "203.0.113.9", "10.0.0.0/8")
    assert untrusted and ipaddress.ip_address(untrusted) == ipaddress.ip_address("::ffff:192.0.2.1")
    # A hop that is no address ends the walk: the peer is all that is known.
    assert ip("10.0.0.5", "203.0.113.9, junk", "10.0.0.0/8") == "10.0.0.5"


class _Transport:
    def __init__(self, remote: str) -> None:
        self.remote = remote

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return (self.remote, 12345) if name == "peername" else default

    def is_closing(self) -> bool:
        return False


async def test_overlong_url_is_414_problem_json(client: TestClient[Any, Any]) -> None:
    response = await client.get("/api/v1/users?q=" + "x" * 20_000)
    assert response.status == 414
    assert response.content_type == "application/problem+json"


async def test_metrics_are_prometheus_text(client: TestClient[Any, Any]) -> None:
    await client.get("/health")
    await client.get("/nowhere")
    response = await client.get("/metrics")
    assert response.status == 200
    text = await response.text()
    assert "# TYPE fpm_cache_hits_total counter" in text
    assert 'fpm_http_requests_total{status="2xx"}' in text
    assert 'fpm_http_requests_total{status="4xx"}' in text


LOOPBACK_PROXY = (ipaddress.ip_network("127.0.0.1/32"),)
ELSEWHERE = (ipaddress.ip_network("203.0.113.0/24"),)


@pytest.fixture
def client_with(aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
                settings: Settings, pool: asyncpg.Pool
                ) -> Callable[..., Awaitable[TestClient[Any, Any]]]:
    """A client of an app whose settings differ from the default ones by `changes`."""
    from server.app import create_app

    async def make(**changes: Any) -> TestClient[Any, Any]:
        return await aiohttp_client(create_app(settings.model_copy(update=changes)))

    return make


async def _not_found_like_an_unknown_path(client: TestClient[Any, Any],
                                          headers: dict[str, str]) -> None:
    hidden = await client.get("/metrics", headers=headers)
    unknown = await client.get("/no-such-path", headers=headers)
    assert hidden.status == unknown.status == 404
    assert hidden.content_type == unknown.content_type == "application/problem+json"
    first, second = await hidden.json(), await unknown.json()
    assert {**first, "request_id": ""} == {**second, "request_id": ""}


async def test_metrics_only_for_allowed_addresses(
        client_with: Callable[..., Awaitable[TestClient[Any, Any]]]) -> None:
    elsewhere = await client_with(metrics_allow=ELSEWHERE)
    await _not_found_like_an_unknown_path(elsewhere, {})
    # A forged X-Forwarded-For is not believed from a peer outside TRUSTED_PROXIES ...
    await _not_found_like_an_unknown_path(elsewhere, {"X-Forwarded-For": "203.0.113.9"})
    # ... and is, through a trusted proxy, for the address it names.
    proxied = await client_with(metrics_allow=ELSEWHERE, trusted_networks=LOOPBACK_PROXY)
    allowed = await proxied.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert allowed.status == 200 and "fpm_uptime_seconds" in await allowed.text()
    await _not_found_like_an_unknown_path(proxied, {"X-Forwarded-For": "198.51.100.4"})


async def test_loopback_behind_an_untrusted_proxy_is_not_an_operator(
        client: TestClient[Any, Any],
        client_with: Callable[..., Awaitable[TestClient[Any, Any]]]) -> None:
    """The default allows loopback; a request a same-host proxy forwarded is not local."""
    assert (await client.get("/metrics")).status == 200
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        await _not_found_like_an_unknown_path(client, {header: "127.0.0.1"})
    proxied = await client_with(trusted_networks=LOOPBACK_PROXY)
    await _not_found_like_an_unknown_path(proxied, {"X-Forwarded-For": "203.0.113.9"})
    assert (await proxied.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"})).status == 200


async def test_readiness_detail_only_for_allowed_addresses(
        client_with: Callable[..., Awaitable[TestClient[Any, Any]]]) -> None:
    public = await client_with(metrics_allow=ELSEWHERE, trusted_networks=LOOPBACK_PROXY)
    response = await public.get("/health/ready")
    assert response.status == 200
    body = await response.json()
    assert set(body) == {"status", "database", "cache", "realtime", "timestamp"}
    assert {body[k] for k in ("status", "database", "cache", "realtime")} <= {
        "healthy", "degraded", "unhealthy"}
    assert body["database"] == "healthy"
    detailed = await (await public.get("/health/ready",
                                       headers={"X-Forwarded-For": "203.0.113.9"})).json()
    assert detailed["cache"]["backend"] == "redis" and "status" in detailed["realtime"]
    live = await public.get("/health")
    assert live.status == 200 and await live.json() == {"status": "ok"}


def test_readiness_summary_keeps_only_the_status_words() -> None:
    from server.routes.health import summary

    body = {"status": "unhealthy", "timestamp": "t",
            "database": {"status": "unhealthy", "error": "ConnectionRefusedError"},
            "cache": {"status": "degraded", "backend": "redis", "errors": 3},
            "realtime": {"status": "healthy", "role": "leader", "lag": 0.2}}
    assert summary(body) == {"status": "unhealthy", "timestamp": "t", "database": "unhealthy",
                             "cache": "degraded", "realtime": "healthy"}


def test_metrics_allow_setting() -> None:
    from server.config import ConfigError, load_settings

    def allow(value: str | None) -> list[str]:
        env = {"JWT_SECRET": "s" * 40, "DATA_DIR": "unused"}
        if value is not None:
            env["METRICS_ALLOW"] = value
        return [str(n) for n in load_settings(env).metrics_allow]

    assert allow(None) == allow("") == ["127.0.0.1/32", "::1/128"]
    assert allow("10.0.0.0/8, 192.0.2.7") == ["10.0.0.0/8", "192.0.2.7/32"]
    assert allow("none") == []
    with pytest.raises(ConfigError, match="METRICS_ALLOW"):
        allow("somewhere")


def test_address_in_networks() -> None:
    from server.auth.identity import address_in

    nets = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))
    assert address_in("127.0.0.1", nets) and address_in("::1", nets)
    assert address_in("::ffff:127.0.0.1", nets)
    assert not address_in("127.0.0.2", nets) and not address_in(None, nets)
    assert not address_in("not-an-address", nets) and not address_in("127.0.0.1", ())
