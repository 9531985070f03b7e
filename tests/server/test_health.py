"""Health endpoints and the error contract every route shares."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient


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
    from dataclasses import replace

    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    from server.auth.identity import client_ip
    from server.config import load_settings
    from server.keys import SETTINGS

    def ip(remote: str, forwarded: str, proxies: str) -> str | None:
        app = web.Application()
        settings = load_settings({"JWT_SECRET": "s" * 40, "TRUSTED_PROXIES": proxies,
                                  "DATA_DIR": "unused"})
        app[SETTINGS] = replace(settings)
        request = make_mocked_request("GET", "/", headers={"X-Forwarded-For": forwarded},
                                      app=app, transport=_Transport(remote))
        return client_ip(request)

    assert ip("10.0.0.5", "203.0.113.9", "") == "10.0.0.5"
    assert ip("10.0.0.5", "203.0.113.9", "10.0.0.0/8") == "203.0.113.9"
    assert ip("10.0.0.5", "198.51.100.1, 203.0.113.9, 10.0.0.7", "10.0.0.0/8") == "203.0.113.9"
    assert ip("192.0.2.1", "203.0.113.9", "10.0.0.0/8") == "192.0.2.1"


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
