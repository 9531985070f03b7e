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
