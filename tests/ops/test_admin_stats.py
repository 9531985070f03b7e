"""GET /api/v1/admin/stats: an org admin sees its own organisation's figures and the
service's health words, nothing about other organisations; others are refused."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.conftest import World


async def test_an_org_admin_sees_only_its_organisation(
    client: TestClient[Any, Any], app: web.Application, world: World,
) -> None:
    org_a, org_b = await world.org(), await world.org()
    admin_a, admin_b = await world.user(org_a, "admin"), await world.user(org_b, "admin")
    await world.project(org_a, members=[admin_a], name="A1")
    for name in ("B1", "B2", "B3"):
        await world.project(org_b, name=name)
    await world.client_record(org_b)
    headers_a = await world.headers(app, admin_a)
    project = (await (await client.get("/api/v1/projects", headers=headers_a)).json())
    for _ in range(3):  # cached reads of org A
        await client.get(f"/api/v1/projects/{project['data'][0]['id']}", headers=headers_a)

    response = await client.get("/api/v1/admin/stats", headers=headers_a)
    assert response.status == 200
    body = await response.json()
    assert body["org_id"] == str(org_a)
    assert body["rows"]["projects"] == 1 and body["rows"]["users"] == 1
    assert body["rows"]["clients"] == 0
    assert body["cache"]["hits"] + body["cache"]["misses"] >= 3
    assert set(body["health"]) == {"database", "cache", "realtime"}
    assert all(isinstance(v, str) for v in body["health"].values())
    text = await response.text()
    assert str(org_b) not in text and "size_bytes" not in text

    body_b = await (await client.get("/api/v1/admin/stats",
                                     headers=await world.headers(app, admin_b))).json()
    assert body_b["rows"]["projects"] == 3 and body_b["rows"]["clients"] == 1
    assert body_b["cache"]["hits"] == 0  # A's reads are not B's

    manager = await world.user(org_a, "project_manager")
    refused = await client.get("/api/v1/admin/stats", headers=await world.headers(app, manager))
    assert refused.status == 403
    assert (await client.get("/api/v1/admin/stats")).status == 401
